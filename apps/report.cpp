// apps/report.cpp -- see report.h.
#include "apps/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io/file_io.h"

namespace dlbhc {

void write_text_atomic(const std::string& path, const std::string& text, const char* what) {
    AtomicFileWriter w(path, what);
    w.write(text.data(), text.size());
    w.commit();
}

std::string html_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
        case '&': o += "&amp;"; break;
        case '<': o += "&lt;"; break;
        case '>': o += "&gt;"; break;
        case '"': o += "&quot;"; break;
        default: o += c;
        }
    }
    return o;
}

std::string json_escape(const std::string& s) {
    std::string o;
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += char(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            o += buf;
        } else {
            o += char(c);
        }
    }
    return o;
}

Image montage(const std::vector<std::vector<MontageCell>>& rows, int cell, int frame) {
    size_t cols = 0;
    for (const auto& r : rows) cols = std::max(cols, r.size());
    const int step = cell + 2 * frame + 2;  // 1 pixel of white between cells
    Image out(3, int(rows.size()) * step, int(cols) * step);
    std::fill(out.pixels.begin(), out.pixels.end(), uint8_t(255));
    for (size_t r = 0; r < rows.size(); ++r)
        for (size_t c = 0; c < rows[r].size(); ++c) {
            const MontageCell& m = rows[r][c];
            if (!m.image || m.image->count() == 0) continue;
            const int y0 = int(r) * step + 1, x0 = int(c) * step + 1;
            for (int y = 0; y < cell + 2 * frame; ++y)
                for (int x = 0; x < cell + 2 * frame; ++x)
                    for (int ch = 0; ch < 3; ++ch) out.at(ch, y0 + y, x0 + x) = m.frame[ch];
            const Image& im = *m.image;
            for (int y = 0; y < cell; ++y)
                for (int x = 0; x < cell; ++x) {
                    const int sy = y * im.h / cell, sx = x * im.w / cell;
                    for (int ch = 0; ch < 3; ++ch)
                        out.at(ch, y0 + frame + y, x0 + frame + x) = im.at(im.c == 1 ? 0 : ch, sy, sx);
                }
        }
    return out;
}

std::string svg_precision_plot(const std::vector<PlotSeries>& series, const std::string& title) {
    const double W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
    double kmin = 1, kmax = 10;
    for (const auto& s : series)
        for (const auto& p : s.points) kmax = std::max(kmax, p.first);
    const double lmin = std::log10(kmin), lmax = std::log10(kmax);
    auto X = [&](double k) { return L + (std::log10(std::max(k, kmin)) - lmin) / (lmax - lmin) * (W - L - R); };
    auto Y = [&](double p) { return T + (1.0 - p) * (H - T - B); };
    std::string o;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                  W, H, W, H);
    o += buf;
    std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n", W / 2,
                  html_escape(title).c_str());
    o += buf;
    for (int i = 0; i <= 10; ++i) {  // precision grid
        double p = i / 10.0;
        std::snprintf(buf, sizeof buf,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"end\">%.1f</text>\n",
                      L, Y(p), W - R, Y(p), L - 6, Y(p) + 4, p);
        o += buf;
    }
    for (double k = 1; k <= kmax * 1.0001; k *= 10) {  // decades
        std::snprintf(buf, sizeof buf,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"middle\">%g</text>\n",
                      X(k), T, X(k), H - B, X(k), H - B + 16, k);
        o += buf;
    }
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">k (results returned, log scale)</text>\n"
                  "<text x=\"16\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.0f)\">precision@k</text>\n",
                  (L + W - R) / 2, H - 12, (T + H - B) / 2, (T + H - B) / 2);
    o += buf;
    const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"};
    for (size_t si = 0; si < series.size(); ++si) {
        const char* col = colours[si % 5];
        std::string pts;
        for (const auto& p : series[si].points) {
            std::snprintf(buf, sizeof buf, "%.1f,%.1f ", X(p.first), Y(p.second));
            pts += buf;
        }
        o += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" + std::string(col) + "\" points=\"" + pts + "\"/>\n";
        for (const auto& p : series[si].points) {
            std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", X(p.first), Y(p.second), col);
            o += buf;
        }
        std::snprintf(buf, sizeof buf,
                      "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"4\" fill=\"%s\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                      L + 14, Y(0.0) - 40 - 18.0 * double(si), col, L + 34, Y(0.0) - 35 - 18.0 * double(si),
                      html_escape(series[si].name).c_str());
        o += buf;
    }
    o += "</svg>\n";
    return o;
}

}  // namespace dlbhc
