// apps/report.cpp -- see report.h.
#include "apps/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>

#include "apps/args.h"
#include "data/image_io.h"
#include "io/file_io.h"
#include "io/path.h"

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

std::string line_field_escape(const std::string& s) {
    std::string o;
    for (unsigned char c : s) {
        switch (c) {
        case '\\': o += "\\\\"; break;
        case '\t': o += "\\t"; break;
        case '\n': o += "\\n"; break;
        case '\r': o += "\\r"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                o += buf;
            } else {
                o += char(c);
            }
        }
    }
    return o;
}

const char* const kLineEscapeHelp =
    "In names, a backslash, tab, newline and carriage return are written as \\\\, \\t, \\n and \\r, and\n"
    "other control bytes as \\xHH, so that a name never breaks a line or a field.\n";

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

namespace {

const double kPlotW = 640, kPlotH = 400;

// One plot of svg_precision_panels, its left edge at x = ox.
std::string svg_panel(const PlotPanel& panel, double ox) {
    const double W = kPlotW, H = kPlotH, L = 60, R = 20, T = 40, B = 50;
    double kmin = 1, kmax = 10;
    for (const auto& s : panel.series)
        for (const auto& p : s.points) kmax = std::max(kmax, p.first);
    const double lmin = std::log10(kmin), lmax = std::log10(kmax);
    auto X = [&](double k) { return ox + L + (std::log10(std::max(k, kmin)) - lmin) / (lmax - lmin) * (W - L - R); };
    auto Y = [&](double p) { return T + (1.0 - p) * (H - T - B); };
    std::string o;
    char buf[512];
    std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n",
                  ox + W / 2, html_escape(panel.title).c_str());
    o += buf;
    for (int i = 0; i <= 10; ++i) {  // precision grid
        double p = i / 10.0;
        std::snprintf(buf, sizeof buf,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"end\">%.1f</text>\n",
                      ox + L, Y(p), ox + W - R, Y(p), ox + L - 6, Y(p) + 4, p);
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
                  "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 %.0f %.0f)\">precision@k</text>\n",
                  ox + (L + W - R) / 2, H - 12, ox + 16, (T + H - B) / 2, ox + 16, (T + H - B) / 2);
    o += buf;
    const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"};
    for (size_t si = 0; si < panel.series.size(); ++si) {
        const char* col = colours[si % 5];
        std::string pts;
        for (const auto& p : panel.series[si].points) {
            std::snprintf(buf, sizeof buf, "%.1f,%.1f ", X(p.first), Y(p.second));
            pts += buf;
        }
        o += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" + std::string(col) + "\" points=\"" + pts + "\"/>\n";
        for (const auto& p : panel.series[si].points) {
            std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\"/>\n", X(p.first), Y(p.second), col);
            o += buf;
        }
        std::snprintf(buf, sizeof buf,
                      "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"4\" fill=\"%s\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                      ox + L + 14, Y(0.0) - 40 - 18.0 * double(si), col, ox + L + 34, Y(0.0) - 35 - 18.0 * double(si),
                      html_escape(panel.series[si].name).c_str());
        o += buf;
    }
    return o;
}

}  // namespace

std::string svg_precision_panels(const std::vector<PlotPanel>& panels) {
    const double W = kPlotW * double(std::max<size_t>(panels.size(), 1)), H = kPlotH;
    std::string o;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                  W, H, W, H);
    o += buf;
    for (size_t i = 0; i < panels.size(); ++i) o += svg_panel(panels[i], kPlotW * double(i));
    o += "</svg>\n";
    return o;
}

std::string svg_precision_plot(const std::vector<PlotSeries>& series, const std::string& title) {
    return svg_precision_panels({PlotPanel{title, series}});
}

// ---- HtmlPageWriter ----

namespace {

// What a page's picture folder holds: pictures and the plot (so that an existing folder holding
// anything else is never deleted), with names of at most kLongestPageFileName bytes.
const std::vector<std::string> kPageFileSuffixes = {".png", ".svg"};
std::string numbered_picture(char kind, size_t i) { return kind + std::to_string(i) + ".png"; }  // q7.png, d42.png
const size_t kLongestPageFileName =
    std::max({sizeof("precision_at_k.svg") - 1, sizeof("examples.png") - 1, numbered_picture('q', SIZE_MAX).size()});

}  // namespace

std::string page_files_path(const std::string& html) {
    std::string stem = base_name(html);
    if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".html") stem.resize(stem.size() - 5);
    return parent_folder(html) + "/" + stem + "_files";
}

void check_html_page(const std::string& html, const std::vector<NamedPath>& others, const std::vector<NamedPath>& inputs) {
    check_output_path(html, "--html");
    const NamedPath folder{"--html's picture folder", page_files_path(html)};
    // An input or output inside the folder is named first: that says more than "the folder holds
    // files it may not replace".
    refuse_inputs_inside_folder(folder, inputs);
    refuse_outputs_inside_folder(folder, others);
    check_replaced_folder(folder.path, folder.label, kPageFileSuffixes, kLongestPageFileName);
}

HtmlPageWriter::HtmlPageWriter(const std::string& html_path, const char* what) : html_(html_path), what_(what) {
    dir_ = parent_folder(html_);
    files_ = base_name(page_files_path(html_));  // made by the AtomicDirWriter, whole or not at all
    // The folder holds only what the pages write: pictures and the plot.
    folder_ = std::make_unique<AtomicDirWriter>(dir_ + "/" + files_, "folder of the page's pictures",
                                                kPageFileSuffixes);
}

std::string HtmlPageWriter::image_file(const std::string& name, const Image& im) {
    save_png(folder_->file(name), im);
    return files_ + "/" + name;
}

std::string HtmlPageWriter::picture(const std::string& name, const Image& im) {
    ++pictures_;
    return image_file(name, im);
}

std::string HtmlPageWriter::text_file(const std::string& name, const std::string& text, const char* what) {
    write_text_atomic(folder_->file(name), text, what);
    return files_ + "/" + name;
}

void HtmlPageWriter::commit(const std::string& page) {
    // The page is complete in its temporary file before the folder is renamed into place, so only
    // the two renames (not a full disk) can come between the new folder and the new page.
    AtomicFileWriter w(html_, what_);
    w.write(page.data(), page.size());
    folder_->commit();
    w.commit();
}

DbPicture db_pictures(const Dataset* ds, const IndexFile& db, uint64_t max_pixels) {
    return [ds, &db, max_pixels](uint32_t idx, Image& img) -> bool {
        try {
            if (ds) ds->item(idx, img);
            else load_image(std::string(db.name(idx)), img, true, max_pixels);
            return true;
        } catch (const std::exception&) {
            return false;
        }
    };
}

// ---- `dlbhc eval` ----

namespace {

std::string fmt(double v) {
    char b[32];
    if (v < 0) return "-";
    std::snprintf(b, sizeof b, "%.4f", v);
    return b;
}

// P@k of the report for k, formatted ("-" when not measured).
std::string fmt_p(const EvalSummary& s, const EvalReport& r, size_t k) { return fmt(precision_at(s.ks, r.precision_at_k, k)); }

}  // namespace

namespace {

// The coarse report with its tie-aware mAP@K and P@k in place of the database-order ones, for
// the rows that show them.
EvalReport tie_aware_view(const EvalReport& r) {
    EvalReport t = r;
    t.map_at_k_precision_m = r.map_at_k_tie_aware;
    t.precision_at_k = r.precision_at_k_tie_aware;
    return t;
}

// A row of the table: mAP@K, P@1, P@10, P@100, P@min(K, 1000), and "-" for what only BCS measures.
void print_list_row(const EvalSummary& s, const char* name, const EvalReport& r) {
    const size_t kl = size_t(std::min(s.K, 1000));
    std::printf("%-15s %9s %9s %8s %8s %8s %8s %9s %9s\n", name, fmt(r.map_at_k_precision_m).c_str(), "-",
                fmt_p(s, r, 1).c_str(), fmt_p(s, r, 10).c_str(), fmt_p(s, r, 100).c_str(), fmt_p(s, r, kl).c_str(), "-", "-");
}

double ms_per_query(const EvalSummary& s, double seconds) { return 1000.0 * seconds / double(std::max<size_t>(s.queries, 1)); }

// With ES: the time of each mode per query and the speed-up of HDS over ES (its pool against
// the whole database: docs/performance.md explains what the ratio depends on).
void print_mode_times(const EvalSummary& s) {
    std::printf("per query:");
    std::printf(" encode %.3f ms;", ms_per_query(s, s.t_encode));
    if (s.bcs) std::printf(" BCS %.3f ms (whole Hamming ranking and its metrics);", ms_per_query(s, s.t_coarse));
    if (s.fine)
        std::printf(" HDS %.3f ms (coarse + fine, mean pool %.0f of %zu items);", ms_per_query(s, s.t_fine), s.mean_pool,
                    s.database);
    std::printf(" ES %.3f ms (%zu items x %d dimensions)", ms_per_query(s, s.t_es), s.database, s.feature_dim);
    if (s.fine && s.t_fine > 0) std::printf("; HDS over ES: %.1fx", s.t_es / s.t_fine);
    std::printf("\n");
}

}  // namespace

void print_eval_table(const EvalSummary& s) {
    const int K = s.K, R = s.radius, T = s.threshold;
    const EvalReport& coarse = s.coarse;
    if (!s.label.empty()) std::printf("\n== query set '%s'", s.label.c_str());
    std::printf("\n%zu queries (%s) against %zu items (%s), %d-bit codes\n", s.queries, s.queries_source.c_str(), s.database,
                s.index_path.c_str(), s.bits);
    std::printf("%-15s %9s %9s %8s %8s %8s %8s %9s %9s\n", "search", ("mAP@" + std::to_string(K)).c_str(), "mAP(all)",
                "P@1", "P@10", "P@100", ("P@" + std::to_string(std::min(K, 1000))).c_str(),
                ("P(r<=" + std::to_string(R) + ")").c_str(), ("P(r<" + std::to_string(R) + ")").c_str());
    const size_t kl = size_t(std::min(K, 1000));
    if (s.bcs)
        std::printf("%-15s %9s %9s %8s %8s %8s %8s %9s %9s\n", "coarse", fmt(coarse.map_at_k_precision_m).c_str(),
                    fmt(coarse.map_whole_ranking).c_str(), fmt_p(s, coarse, 1).c_str(), fmt_p(s, coarse, 10).c_str(),
                    fmt_p(s, coarse, 100).c_str(), fmt_p(s, coarse, kl).c_str(), fmt(coarse.within_radius_le.precision).c_str(),
                    fmt(coarse.within_radius_lt.precision).c_str());
    if (s.bcs && coarse.tie_aware) print_list_row(s, "coarse,ties", tie_aware_view(coarse));
    if (s.fine) print_list_row(s, "coarse+fine", s.reranked);
    if (s.es) print_list_row(s, "exhaustive", s.exhaustive);
    if (s.baseline) print_list_row(s, "baseline", s.baseline_report);
    std::printf("conventions: mAP@%d is the authors' precision.m (AP divided by the relevant items within the top %d);\n"
                "mAP(all) averages AP over the whole Hamming ranking (queries without relevant items count 0);\n"
                "ties in Hamming distance keep database order; coarse,ties gives the tie-aware mAP@%d and P@k instead:\n"
                "their expected values over every order of the items at equal Hamming distance (exact, per distance level).",
                K, K, K);
    if (s.fine)
        std::printf(" Fine stage: pool d < %d widened to >= %d items (mean pool %.0f items, widened for %zu queries).", T, K,
                    s.mean_pool, s.widened);
    if (s.es || s.baseline)
        std::printf("\nThe paper's modes: BCS = coarse, HDS = coarse+fine, ES = exhaustive (Euclidean distance of the "
                    "features, ties in database order)%s.",
                    s.baseline ? ("; baseline = ES on the features of " + s.baseline_net + " (database features " +
                                  s.baseline_source + ")").c_str()
                               : "");
    if (s.own_items)
        std::printf("\nThe queries are items of the index (same dataset files, same item numbers): each query's own item "
                    "is left out of its ranking (%zu queries).",
                    s.own_items);
    std::printf("\nquery latent outputs within 0.1 of 0 or 1: %.1f%%; time: encode %.1f s, coarse %.2f s, fine %.2f s\n",
                100 * s.near_binary, s.t_encode, s.t_coarse, s.t_fine);
    if (s.es) print_mode_times(s);
    if (s.baseline)
        std::printf("baseline: encode %.3f ms, ES %.3f ms per query (%zu items x %d dimensions)\n",
                    ms_per_query(s, s.t_baseline_encode), ms_per_query(s, s.t_baseline), s.database, s.baseline_dim);
}

namespace {

std::string json_pk(const EvalSummary& s, const std::vector<double>& ps) {
    std::string o = "{";
    char b[64];
    for (size_t i = 0; i < ps.size(); ++i) {
        std::snprintf(b, sizeof b, "%s\"%zu\": %.6f", i ? ", " : "", s.ks[i], ps[i]);
        o += b;
    }
    return o + "}";
}

// One query set's object; `in` indents every line.
std::string eval_json_set(const EvalSummary& s, const std::string& in) {
    const EvalReport& coarse = s.coarse;
    std::string j = in + "{\n";
    char b[512];
    std::snprintf(b, sizeof b, "%s  \"queries\": %zu,\n%s  \"database\": %zu,\n%s  \"bits\": %d,\n%s  \"K\": %d,\n%s  \"radius\": %d,\n",
                  in.c_str(), s.queries, in.c_str(), s.database, in.c_str(), s.bits, in.c_str(), s.K, in.c_str(), s.radius);
    j += b;
    if (!s.label.empty()) j += in + "  \"label\": \"" + json_escape(s.label) + "\",\n";
    j += in + "  \"index\": \"" + json_escape(s.index_path) + "\",\n" + in + "  \"queries_source\": \"" +
         json_escape(s.queries_source) + "\",\n";
    if (s.own_items) j += in + "  \"own_items_left_out\": " + std::to_string(s.own_items) + ",\n";
    std::string sep;
    if (s.bcs) {
        std::snprintf(b, sizeof b,
                      "%s  \"coarse\": {\"map_at_k\": %.6f, \"map_whole_ranking\": %.6f, \"precision_within_radius_le\": %.6f, "
                      "\"precision_within_radius_lt\": %.6f, \"recall_within_radius_le\": %.6f, ",
                      in.c_str(), coarse.map_at_k_precision_m, coarse.map_whole_ranking, coarse.within_radius_le.precision,
                      coarse.within_radius_lt.precision, coarse.within_radius_le.recall);
        j += b;
        j += "\"precision_at_k\": " + json_pk(s, coarse.precision_at_k);
        if (coarse.tie_aware) {
            std::snprintf(b, sizeof b, ", \"map_at_k_tie_aware\": %.6f, ", coarse.map_at_k_tie_aware);
            j += b;
            j += "\"precision_at_k_tie_aware\": " + json_pk(s, coarse.precision_at_k_tie_aware);
        }
        j += "}";
        sep = ",\n";
    }
    if (s.fine) {
        std::snprintf(b, sizeof b, "%s%s  \"coarse_fine\": {\"map_at_k\": %.6f, \"threshold\": %d, \"mean_pool\": %.1f, ",
                      sep.c_str(), in.c_str(), s.reranked.map_at_k_precision_m, s.threshold, s.mean_pool);
        j += b;
        j += "\"precision_at_k\": " + json_pk(s, s.reranked.precision_at_k) + "}";
        sep = ",\n";
    }
    if (s.es) {
        std::snprintf(b, sizeof b, "%s%s  \"exhaustive\": {\"map_at_k\": %.6f, \"feature_dim\": %d, ", sep.c_str(), in.c_str(),
                      s.exhaustive.map_at_k_precision_m, s.feature_dim);
        j += b;
        j += "\"precision_at_k\": " + json_pk(s, s.exhaustive.precision_at_k) + "}";
        sep = ",\n";
    }
    if (s.baseline) {
        std::snprintf(b, sizeof b, "%s%s  \"baseline\": {\"map_at_k\": %.6f, \"feature_dim\": %d, ", sep.c_str(), in.c_str(),
                      s.baseline_report.map_at_k_precision_m, s.baseline_dim);
        j += b;
        j += "\"net\": \"" + json_escape(s.baseline_net) + "\", \"weights\": \"" + json_escape(s.baseline_weights) +
             "\", \"database_features\": \"" + json_escape(s.baseline_source) + "\", ";
        j += "\"precision_at_k\": " + json_pk(s, s.baseline_report.precision_at_k) + "}";
    }
    std::snprintf(b, sizeof b, ",\n%s  \"latent_near_binary\": %.6f,\n%s  \"seconds\": {\"encode\": %.3f, \"coarse\": %.3f, \"fine\": %.3f",
                  in.c_str(), s.near_binary, in.c_str(), s.t_encode, s.t_coarse, s.t_fine);
    j += b;
    if (s.es) {
        std::snprintf(b, sizeof b, ", \"exhaustive\": %.3f", s.t_es);
        j += b;
    }
    if (s.baseline) {
        std::snprintf(b, sizeof b, ", \"baseline_encode\": %.3f, \"baseline\": %.3f", s.t_baseline_encode, s.t_baseline);
        j += b;
    }
    return j + "}\n" + in + "}";
}

}  // namespace

std::string eval_json(const std::vector<EvalSummary>& sets) {
    if (sets.size() == 1) return eval_json_set(sets[0], "") + "\n";
    std::string j = "{\n  \"query_sets\": [\n";
    for (size_t i = 0; i < sets.size(); ++i) j += eval_json_set(sets[i], "    ") + (i + 1 < sets.size() ? ",\n" : "\n");
    return j + "  ]\n}\n";
}

std::vector<PlotSeries> eval_plot_series(const EvalSummary& s) {
    std::vector<PlotSeries> series;
    auto make_series = [&](const std::string& name, const std::vector<double>& ps) {
        PlotSeries p;
        p.name = name;
        for (size_t i = 0; i < ps.size(); ++i) p.points.emplace_back(double(s.ks[i]), ps[i]);
        series.push_back(p);
    };
    if (s.bcs) make_series("BCS: coarse (Hamming)", s.coarse.precision_at_k);
    if (s.fine) make_series("HDS: coarse + fine (re-ranked)", s.reranked.precision_at_k);
    if (s.es) make_series("ES: exhaustive (features)", s.exhaustive.precision_at_k);
    if (s.baseline) make_series("baseline: ES on " + s.baseline_net, s.baseline_report.precision_at_k);
    return series;
}

std::string eval_plot_title(const EvalSummary& s) {
    return (s.label.empty() ? "" : s.label + " queries: ") + "precision@k, " + std::to_string(s.queries) + " queries vs " +
           std::to_string(s.database) + " items, " + std::to_string(s.bits) + " bits";
}

std::string eval_plot_svg(const std::vector<EvalSummary>& sets) {
    std::vector<PlotPanel> panels;
    for (const EvalSummary& s : sets) panels.push_back({eval_plot_title(s), eval_plot_series(s)});
    return svg_precision_panels(panels);
}

namespace {

// A row of a page's table for a mode that ranks a short list (no whole-ranking metrics).
std::string eval_page_list_row(const EvalSummary& s, const std::string& name, const EvalReport& r) {
    const size_t kl = size_t(std::min(s.K, 1000));
    return "<tr><td>" + html_escape(name) + "</td><td>" + fmt(r.map_at_k_precision_m) + "</td><td>-</td><td>" + fmt_p(s, r, 1) +
           "</td><td>" + fmt_p(s, r, 10) + "</td><td>" + fmt_p(s, r, 100) + "</td><td>" + fmt_p(s, r, kl) + "</td><td>-</td></tr>\n";
}

// One query set's paragraph and metrics table.
std::string eval_page_set(const EvalSummary& s) {
    const EvalReport& coarse = s.coarse;
    const size_t kl = size_t(std::min(s.K, 1000));
    std::string page;
    if (!s.label.empty()) page += "<h2>Queries '" + html_escape(s.label) + "'</h2>\n";
    page += "<p>" + html_escape(std::to_string(s.queries)) + " queries from <code>" +
            html_escape(s.queries_source) + "</code> against " + std::to_string(s.database) + " items of <code>" +
            html_escape(s.index_path) + "</code>, " + std::to_string(s.bits) + "-bit codes; net <code>" +
            html_escape(s.net_path) + "</code>, weights <code>" + html_escape(s.weights_path) + "</code>.";
    if (s.own_items)
        page += " The queries are items of the index (same dataset files, same item numbers): each query's own item is "
                "left out of its ranking (" + std::to_string(s.own_items) + " queries).";
    page += "</p>\n<table class=\"m\"><tr><th>search</th><th>mAP@" + std::to_string(s.K) +
            "</th><th>mAP (whole ranking)</th><th>P@1</th><th>P@10</th><th>P@100</th><th>P@" + std::to_string(kl) +
            "</th><th>P(r&le;" + std::to_string(s.radius) + ")</th></tr>\n";
    if (s.bcs)
        page += "<tr><td>coarse (Hamming)</td><td>" + fmt(coarse.map_at_k_precision_m) + "</td><td>" +
                fmt(coarse.map_whole_ranking) + "</td><td>" + fmt_p(s, coarse, 1) + "</td><td>" + fmt_p(s, coarse, 10) +
                "</td><td>" + fmt_p(s, coarse, 100) + "</td><td>" + fmt_p(s, coarse, kl) + "</td><td>" +
                fmt(coarse.within_radius_le.precision) + "</td></tr>\n";
    if (s.bcs && coarse.tie_aware)
        page += eval_page_list_row(s, "coarse, tie-aware (expected over the orders of equal distances)", tie_aware_view(coarse));
    if (s.fine) page += eval_page_list_row(s, "coarse + fine", s.reranked);
    if (s.es) page += eval_page_list_row(s, "exhaustive (ES)", s.exhaustive);
    if (s.baseline) page += eval_page_list_row(s, "baseline: ES on " + s.baseline_net, s.baseline_report);
    return page + "</table>\n";
}

// The page's head, title paragraph and metrics tables.
std::string eval_page_head(const std::vector<EvalSummary>& sets) {
    const EvalSummary& s = sets.at(0);
    std::string page;
    page += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dlbhc retrieval report</title>\n<style>"
            "body{font-family:sans-serif;margin:2em} table.m{border-collapse:collapse} table.m td,table.m th{border:1px "
            "solid #ccc;padding:4px 8px;text-align:right} img.t{width:56px;height:56px;image-rendering:pixelated;border:3px "
            "solid #fff} img.ok{border-color:#2ca02c} img.no{border-color:#d62728} img.q{border-color:#1f77b4} "
            ".row{display:flex;align-items:center;gap:4px;margin:6px 0} .lab{width:12em;font-size:12px}</style></head><body>\n";
    page += "<h1>dlbhc retrieval report</h1>\n";
    for (const EvalSummary& set : sets) page += eval_page_set(set);
    page += "<p>mAP@K follows the authors' precision.m (AP divided by the relevant items within the top K); "
            "Hamming ties keep database order (the tie-aware row gives the expected values over every order of equal distances instead); the fine stage re-ranks the items with Hamming distance &lt; " +
            std::to_string(s.threshold) + " (at least " + std::to_string(s.K) + ") by Euclidean feature distance.</p>\n";
    return page;
}

// Montage cells keep pointers to their images: a deque does not move its elements as it grows.
struct ShownPictures {
    std::deque<Image> keep;
    std::vector<std::vector<MontageCell>> rows;
};

// One row of the page (and of examples.png): the query's thumbnail, then its results.
std::string eval_page_row(const ShownQuery& sq, const std::string& what, const std::vector<ShownResult>& results,
                          const Image* qimg, const std::string& qsrc, const DbPicture& db_picture, HtmlPageWriter& w,
                          ShownPictures& pics, size_t& missing) {
    Image img;
    pics.rows.emplace_back();
    MontageCell qc;
    qc.image = qimg;
    qc.frame[0] = 180, qc.frame[1] = 119, qc.frame[2] = 31;  // blue (BGR)
    pics.rows.back().push_back(qc);
    std::string page = "<div class=\"row\"><div class=\"lab\">" + what + "<br>query " + std::to_string(sq.query) + ", label " +
                       std::to_string(sq.label) + "</div><img class=\"t q\" src=\"" + html_escape(qsrc) + "\">";
    for (const ShownResult& r : results) {
        const bool ok = r.label == sq.label;
        std::string title = r.name + ", label " + std::to_string(r.label) + ", " + r.note;
        if (db_picture(r.index, img)) {
            pics.keep.push_back(img);
            MontageCell mc;
            mc.image = &pics.keep.back();
            mc.frame[0] = ok ? 44 : 40, mc.frame[1] = ok ? 160 : 39, mc.frame[2] = ok ? 44 : 214;
            pics.rows.back().push_back(mc);
            page += "<img class=\"t " + std::string(ok ? "ok" : "no") + "\" title=\"" + html_escape(title) + "\" src=\"" +
                    html_escape(w.picture(numbered_picture('d', r.index), img)) + "\">";
        } else {
            ++missing;
            page += "<span title=\"" + html_escape(title) + "\">[" + std::to_string(r.index) + "]</span>";
        }
    }
    return page + "</div>\n";
}

}  // namespace

std::string eval_html_page(const std::vector<EvalSummary>& sets, const std::vector<ShownQuery>& shown,
                           const std::function<void(size_t, Image&)>& query_picture, const DbPicture& db_picture,
                           HtmlPageWriter& w, size_t& missing) {
    const std::string svgname = w.text_file("precision_at_k.svg", eval_plot_svg(sets), "SVG plot");
    std::string page = eval_page_head(sets);
    page += "<p><img src=\"" + html_escape(svgname) + "\" alt=\"precision at k\"></p>\n<h2>Top 10 of some queries</h2>\n"
            "<p>Blue: the query. Green: same class. Red: another class. Each query shows coarse (Hamming) results, "
            "then coarse + fine.</p>\n";
    // The same rows as one picture (examples.png), for places that show no HTML.
    ShownPictures pics;
    Image img;
    for (const ShownQuery& sq : shown) {
        query_picture(sq.query, img);
        pics.keep.push_back(img);
        const Image* qimg = &pics.keep.back();
        const std::string qsrc = w.picture(numbered_picture('q', sq.query), img);
        for (const auto& row : sq.rows) page += eval_page_row(sq, row.first, row.second, qimg, qsrc, db_picture, w, pics, missing);
    }
    if (!pics.rows.empty()) {
        const std::string link = w.image_file("examples.png", montage(pics.rows));  // not counted as a thumbnail
        page += "<p>All rows as one picture: <a href=\"" + html_escape(link) + "\">examples.png</a></p>\n";
    }
    page += "</body></html>\n";
    return page;
}


// ---- `dlbhc query` ----

std::string code_hex(const uint64_t* code, int words, int bits) {
    std::string hex;
    for (int w = words - 1; w >= 0; --w) {
        char b[20];
        std::snprintf(b, sizeof b, "%016llx", (unsigned long long)code[w]);
        hex += b;
    }
    return hex.substr(hex.size() - size_t((bits + 3) / 4));
}

void print_query_json(const QueryResults& r) {
    std::printf("{\"query\": \"%s\", \"label\": %d, \"code\": \"%s\", \"search\": \"%s\", \"pool\": %zu, \"results\": [\n",
                json_escape(r.name).c_str(), r.label, r.code.c_str(), r.fine ? "coarse+fine" : "coarse", r.pool);
    const auto& rows = r.hits;
    for (size_t i = 0; i < rows.size(); ++i)
        std::printf("  {\"rank\": %zu, \"index\": %u, \"hamming\": %u, \"euclidean\": %s, \"label\": %d, \"name\": \"%s\"}%s\n",
                    i + 1, rows[i].index, rows[i].hamming, rows[i].euclid < 0 ? "null" : std::to_string(rows[i].euclid).c_str(),
                    rows[i].label, json_escape(rows[i].name).c_str(), i + 1 < rows.size() ? "," : "");
    std::printf("]}\n");
}

void print_query_table(const QueryResults& r) {
    std::printf("query %s (label %d), code %s (hex, bit 0 rightmost); %s", line_field_escape(r.name).c_str(), r.label,
                r.code.c_str(), r.fine ? "coarse + fine" : "coarse only");
    if (r.fine) std::printf(", pool of %zu candidates", r.pool);
    std::printf("\n%5s %8s %10s %6s  %s\n", "rank", "hamming", "euclidean", "label", "name");
    const auto& rows = r.hits;
    for (size_t i = 0; i < rows.size(); ++i) {
        char e[32] = "-";
        if (rows[i].euclid >= 0) std::snprintf(e, sizeof e, "%.4f", rows[i].euclid);
        std::printf("%5zu %8u %10s %6d  %s\n", i + 1, rows[i].hamming, e, rows[i].label,
                    line_field_escape(rows[i].name).c_str());
    }
}

std::string query_html_page(const QueryResults& r, const Image& query, const DbPicture& db_picture, HtmlPageWriter& w,
                            const std::string& no_pictures) {
    const std::string qsrc = w.picture("query.png", query);
    std::string page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dlbhc query</title><style>"
                       "body{font-family:sans-serif;margin:2em} figure{display:inline-block;margin:6px;text-align:center;"
                       "font-size:12px} img{width:96px;height:96px;image-rendering:pixelated;border:3px solid #fff} "
                       "img.q{border-color:#1f77b4} img.ok{border-color:#2ca02c} img.no{border-color:#d62728} "
                       "td,th{padding:2px 10px;text-align:left} p.note{color:#d62728}</style></head><body>\n";
    page += "<h1>Query</h1><figure><img class=\"q\" src=\"" + html_escape(qsrc) + "\"><figcaption>" + html_escape(r.name) +
            "<br>label " + std::to_string(r.label) + "</figcaption></figure>\n<h2>Top " + std::to_string(r.hits.size()) + " (" +
            (r.fine ? "coarse + fine" : "coarse") + ")</h2>\n";
    Image img;  // one picture at a time: a long list of large pictures is never held at once
    bool any = false;
    for (size_t i = 0; i < r.hits.size() && !any; ++i) any = db_picture(r.hits[i].index, img);
    auto distances = [](const QueryHit& h) {
        char e[48] = "";
        if (h.euclid >= 0) std::snprintf(e, sizeof e, ", E %.3f", h.euclid);
        return "H " + std::to_string(h.hamming) + e;
    };
    if (!any && !r.hits.empty()) {
        // No frame without a picture: the results as a table, and why there are no pictures.
        page += "<p class=\"note\">No picture of the results can be shown: " + html_escape(no_pictures) +
                ".</p>\n<table><tr><th>#</th><th>name</th><th>label</th><th>distances</th></tr>\n";
        for (size_t i = 0; i < r.hits.size(); ++i)
            page += "<tr><td>" + std::to_string(i + 1) + "</td><td>" + html_escape(r.hits[i].name) + "</td><td>" +
                    std::to_string(r.hits[i].label) + "</td><td>" + distances(r.hits[i]) + "</td></tr>\n";
        return page + "</table></body></html>\n";
    }
    for (size_t i = 0; i < r.hits.size(); ++i) {
        const QueryHit& h = r.hits[i];
        const std::string cls = r.label < 0 ? "" : (h.label == r.label ? "ok" : "no");
        page += "<figure>";
        if (db_picture(h.index, img))
            page += "<img class=\"" + cls + "\" src=\"" + html_escape(w.picture(numbered_picture('r', i + 1), img)) + "\">";
        page += "<figcaption>#" + std::to_string(i + 1) + " " + html_escape(h.name) + "<br>label " + std::to_string(h.label) +
                ", " + distances(h) + "</figcaption></figure>\n";
    }
    return page + "</body></html>\n";
}

}  // namespace dlbhc
