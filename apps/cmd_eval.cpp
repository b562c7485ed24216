// apps/cmd_eval.cpp -- `dlbhc eval`: the paper's retrieval protocol on a query set against an
// index, coarse (Hamming) and coarse + fine (Hamming pool re-ranked by feature distance).
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/pipeline.h"
#include "apps/report.h"
#include "data/image_io.h"
#include "search/eval.h"
#include "search/hierarchical.h"
#include "search/index_file.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc eval --net NET.prototxt --weights W.weights --index DB.idx --queries SPEC [options]\n"
    "Encodes every query image and ranks the index for it, as the authors' run_cifar10.m and\n"
    "precision.m do: the whole database sorted by Hamming distance (stable: ties keep database\n"
    "order), relevant = same label. Prints, for coarse search and for coarse + fine search\n"
    "(candidates with Hamming distance < --threshold, widened to at least K, re-ranked by Euclidean\n"
    "distance of the features):\n"
    "  mAP@K      authors' definition: AP = sum_j P@j rel_j / (relevant within the top K)\n"
    "  mAP        over the whole ranking (coarse only)\n"
    "  P@k        k = 1, 10, 100, 1000: relevant in the top k / k, averaged over queries\n"
    "  P(r<=2)    precision of the items within Hamming radius 2 (d <= 2; a query retrieving\n"
    "             nothing counts as 0), and the same with d < 2\n"
    "  --net, --weights     the trained net (as for `dlbhc index`)\n"
    "  --index FILE         the database (from `dlbhc index`)\n"
    "  --queries SPEC       query images with labels (same forms as `dlbhc index --data`)\n"
    "  --k K                mAP@K and the fine stage's list length (default 1000)\n"
    "  --threshold T        fine stage pool: Hamming distance < T (default 8)\n"
    "  --radius R           for the within-radius precision (default 2)\n"
    "  --max-queries N      use only the first N queries\n"
    "  --no-fine            coarse only\n"
    "  --json FILE          write the metrics as JSON\n"
    "  --svg FILE           write a precision@k plot\n"
    "  --html FILE          write a report page: metrics, plot, top-10 results of a few queries as\n"
    "                       pictures (thumbnails written next to the page); needs --db-data when the\n"
    "                       index's item names are not image files\n"
    "  --db-data SPEC       the dataset the index was built from (for pictures)\n"
    "  --examples N         queries shown in the HTML report (default 6)\n"
    "  --bits H, --classes K, --batch N, --mean FILE, --root DIR, --strict   as for `dlbhc index`\n";

namespace {

const std::vector<size_t> kPlotKs = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};

struct FineReport {
    bool done = false;
    double map_at_k = 0;
    std::vector<double> precision_at_k;  // for kPlotKs
    double mean_pool = 0;
    size_t widened = 0;
    std::vector<HierarchicalResult> results;
};

double p_at(const std::vector<size_t>& ks, const std::vector<double>& ps, size_t k) {
    for (size_t i = 0; i < ks.size(); ++i)
        if (ks[i] == k) return ps[i];
    return -1;
}

std::string fmt(double v) {
    char b[32];
    if (v < 0) return "-";
    std::snprintf(b, sizeof b, "%.4f", v);
    return b;
}

}  // namespace

int cmd_eval(const std::vector<std::string>& argv) {
    Args a(argv,
           {"mean", "net", "weights", "index", "queries", "k", "threshold", "radius", "max-queries", "json", "svg", "html",
            "db-data", "examples", "bits", "classes", "batch", "root", "max-pixels"},
           {"no-fine", "strict", "help"});
    if (a.has("help")) {
        std::fputs(kHelp, stdout);
        std::fputs(kMaxPixelsHelp, stdout);
        return 0;
    }
    a.expect_no_positional();
    a.require({"net", "weights", "index", "queries"});
    // Every option, output and file that can be checked is checked before the queries are encoded.
    const int K = a.get_int_in("k", 1000, 1, INT_MAX), T = a.get_int_in("threshold", 8, 0, INT_MAX),
              R = a.get_int_in("radius", 2, 0, INT_MAX);
    const int max_queries = a.get_int_in("max-queries", INT_MAX, 1, INT_MAX);
    const int examples = a.get_int_in("examples", 6, 0, 1000);
    std::vector<std::pair<std::string, std::string>> outputs;
    for (const char* o : {"json", "svg", "html"})
        if (a.has(o)) {
            check_output_path(a.get(o, ""), std::string("--") + o);
            outputs.emplace_back(std::string("--") + o, a.get(o, ""));
        }
    check_distinct_outputs(outputs);
    using clock = std::chrono::steady_clock;
    const std::vector<NamedPath> inputs = option_paths(a, {"net", "weights", "index", "queries", "db-data", "mean"});
    refuse_overwriting_inputs(option_paths(a, {"json", "svg", "html"}), inputs);

    const PipelineOptions po = pipeline_options(a, 100);
    IndexFile db = IndexFile::open(a.get("index", ""));
    const bool fine = !a.has("no-fine");
    if (fine && !db.has_features())
        throw std::invalid_argument("index '" + db.path() + "' has no features: the fine stage needs them (or use --no-fine)");
    const SourceOptions so = source_options(po);
    std::unique_ptr<Dataset> dbds;  // pictures of the database items for --html
    if (a.has("html") && a.has("db-data")) dbds = open_dataset(a.get("db-data", ""), so);
    auto qds = open_dataset(a.get("queries", ""), so);
    EncodeSetup es = make_encode_setup(po, a.get("weights", ""), *qds);
    check_net_fits_index(es, db, fine);
    auto t0 = clock::now();
    EncodedSet q = encode_dataset(es, *qds, fine, true);
    const double t_encode = std::chrono::duration<double>(clock::now() - t0).count();
    const size_t Q = std::min(q.codes.size(), size_t(max_queries));
    if (Q == 0) throw std::invalid_argument("no queries");
    CodeView qv{q.codes.code(0), Q, q.codes.bits(), q.codes.words()};

    // Coarse: the whole ranking by Hamming distance.
    EvalConfig cfg;
    cfg.K = size_t(K);
    cfg.precision_ks = kPlotKs;
    while (!cfg.precision_ks.empty() && cfg.precision_ks.back() > size_t(K)) cfg.precision_ks.pop_back();
    cfg.radius = R;
    cfg.pr_curve = false;
    t0 = clock::now();
    EvalReport coarse = evaluate_hamming_ranking(db.codes(), db.labels(), qv, q.labels.data(), cfg);
    const double t_coarse = std::chrono::duration<double>(clock::now() - t0).count();

    // Coarse + fine: pool below the threshold (at least K items), ranked by feature distance.
    FineReport fr;
    double t_fine = 0;
    if (fine) {
        HierarchicalOptions ho;
        ho.pool = HierarchicalOptions::Pool::Radius;
        ho.threshold = T;
        ho.rule = RadiusRule::LessThan;
        ho.min_pool = size_t(K);
        t0 = clock::now();
        fr.results = hierarchical_search_batch(db.codes(), db.features(), qv, q.features.data(), size_t(K), ho);
        t_fine = std::chrono::duration<double>(clock::now() - t0).count();
        fr.done = true;
        std::vector<double> hits(cfg.precision_ks.size(), 0.0);
        std::vector<uint8_t> rel;
        for (size_t i = 0; i < Q; ++i) {
            const auto& res = fr.results[i];
            rel.assign(res.hits.size(), 0);
            for (size_t j = 0; j < res.hits.size(); ++j) rel[j] = db.label(res.hits[j].index) == q.labels[i];
            fr.map_at_k += average_precision_at_k_precision_m(rel.data(), rel.size(), size_t(K));
            for (size_t s = 0; s < cfg.precision_ks.size(); ++s)
                hits[s] += double(relevant_in_top(rel.data(), rel.size(), cfg.precision_ks[s]));
            fr.mean_pool += double(res.pool_size);
            fr.widened += res.widened;
        }
        fr.map_at_k /= double(Q);
        fr.mean_pool /= double(Q);
        for (size_t s = 0; s < hits.size(); ++s) fr.precision_at_k.push_back(hits[s] / (double(cfg.precision_ks[s]) * double(Q)));
    }

    Binariness bin = binariness(q.activations, q.codes.bits());
    std::printf("\n%zu queries (%s) against %zu items (%s), %d-bit codes\n", Q, a.get("queries", "").c_str(), db.size(),
                db.path().c_str(), db.bits());
    std::printf("%-15s %9s %9s %8s %8s %8s %8s %9s %9s\n", "search", ("mAP@" + std::to_string(K)).c_str(), "mAP(all)",
                "P@1", "P@10", "P@100", ("P@" + std::to_string(std::min(K, 1000))).c_str(),
                ("P(r<=" + std::to_string(R) + ")").c_str(), ("P(r<" + std::to_string(R) + ")").c_str());
    const size_t kl = size_t(std::min(K, 1000));
    std::printf("%-15s %9s %9s %8s %8s %8s %8s %9s %9s\n", "coarse", fmt(coarse.map_at_k_precision_m).c_str(),
                fmt(coarse.map_whole_ranking).c_str(), fmt(p_at(cfg.precision_ks, coarse.precision_at_k, 1)).c_str(),
                fmt(p_at(cfg.precision_ks, coarse.precision_at_k, 10)).c_str(),
                fmt(p_at(cfg.precision_ks, coarse.precision_at_k, 100)).c_str(),
                fmt(p_at(cfg.precision_ks, coarse.precision_at_k, kl)).c_str(), fmt(coarse.within_radius_le.precision).c_str(),
                fmt(coarse.within_radius_lt.precision).c_str());
    if (fr.done)
        std::printf("%-15s %9s %9s %8s %8s %8s %8s %9s %9s\n", "coarse+fine", fmt(fr.map_at_k).c_str(), "-",
                    fmt(p_at(cfg.precision_ks, fr.precision_at_k, 1)).c_str(),
                    fmt(p_at(cfg.precision_ks, fr.precision_at_k, 10)).c_str(),
                    fmt(p_at(cfg.precision_ks, fr.precision_at_k, 100)).c_str(),
                    fmt(p_at(cfg.precision_ks, fr.precision_at_k, kl)).c_str(), "-", "-");
    std::printf("conventions: mAP@%d is the authors' precision.m (AP divided by the relevant items within the top %d);\n"
                "mAP(all) averages AP over the whole Hamming ranking (queries without relevant items count 0);\n"
                "ties in Hamming distance keep database order.",
                K, K);
    if (fr.done)
        std::printf(" Fine stage: pool d < %d widened to >= %d items (mean pool %.0f items, widened for %zu queries).", T, K,
                    fr.mean_pool, fr.widened);
    std::printf("\nquery latent outputs within 0.1 of 0 or 1: %.1f%%; time: encode %.1f s, coarse %.2f s, fine %.2f s\n",
                100 * bin.near_binary, t_encode, t_coarse, t_fine);

    std::vector<PlotSeries> series;
    auto make_series = [&](const char* name, const std::vector<double>& ps) {
        PlotSeries s;
        s.name = name;
        for (size_t i = 0; i < ps.size(); ++i) s.points.emplace_back(double(cfg.precision_ks[i]), ps[i]);
        series.push_back(s);
    };
    make_series("coarse (Hamming)", coarse.precision_at_k);
    if (fr.done) make_series("coarse + fine (re-ranked)", fr.precision_at_k);

    if (a.has("json")) {
        std::string j = "{\n";
        char b[256];
        std::snprintf(b, sizeof b, "  \"queries\": %zu,\n  \"database\": %zu,\n  \"bits\": %d,\n  \"K\": %d,\n  \"radius\": %d,\n", Q,
                      db.size(), db.bits(), K, R);
        j += b;
        j += "  \"index\": \"" + json_escape(db.path()) + "\",\n  \"queries_source\": \"" + json_escape(a.get("queries", "")) + "\",\n";
        auto pk = [&](const std::vector<double>& ps) {
            std::string s = "{";
            for (size_t i = 0; i < ps.size(); ++i) {
                std::snprintf(b, sizeof b, "%s\"%zu\": %.6f", i ? ", " : "", cfg.precision_ks[i], ps[i]);
                s += b;
            }
            return s + "}";
        };
        std::snprintf(b, sizeof b,
                      "  \"coarse\": {\"map_at_k\": %.6f, \"map_whole_ranking\": %.6f, \"precision_within_radius_le\": %.6f, "
                      "\"precision_within_radius_lt\": %.6f, \"recall_within_radius_le\": %.6f, ",
                      coarse.map_at_k_precision_m, coarse.map_whole_ranking, coarse.within_radius_le.precision,
                      coarse.within_radius_lt.precision, coarse.within_radius_le.recall);
        j += b;
        j += "\"precision_at_k\": " + pk(coarse.precision_at_k) + "}";
        if (fr.done) {
            std::snprintf(b, sizeof b, ",\n  \"coarse_fine\": {\"map_at_k\": %.6f, \"threshold\": %d, \"mean_pool\": %.1f, ",
                          fr.map_at_k, T, fr.mean_pool);
            j += b;
            j += "\"precision_at_k\": " + pk(fr.precision_at_k) + "}";
        }
        std::snprintf(b, sizeof b, ",\n  \"latent_near_binary\": %.6f,\n  \"seconds\": {\"encode\": %.3f, \"coarse\": %.3f, \"fine\": %.3f}\n}\n",
                      bin.near_binary, t_encode, t_coarse, t_fine);
        j += b;
        ensure_parent_dir(a.get("json", ""));
        write_text_atomic(a.get("json", ""), j, "JSON report");
        std::printf("metrics written to %s\n", a.get("json", "").c_str());
    }
    const std::string title = "precision@k, " + std::to_string(Q) + " queries vs " + std::to_string(db.size()) + " items, " +
                              std::to_string(db.bits()) + " bits";
    if (a.has("svg")) {
        ensure_parent_dir(a.get("svg", ""));
        write_text_atomic(a.get("svg", ""), svg_precision_plot(series, title), "SVG plot");
        std::printf("plot written to %s\n", a.get("svg", "").c_str());
    }
    if (a.has("html")) {
        const std::string html = a.get("html", "");
        const PageFolder pf = page_folder(html);
        const std::string& dir = pf.dir;
        const std::string& files = pf.files;
        const std::string svgname = files + "/precision_at_k.svg";
        refuse_overwriting_inputs({{"--html picture", dir + "/" + svgname}}, inputs);
        write_text_atomic(dir + "/" + svgname, svg_precision_plot(series, title), "SVG plot");
        // One picture per shown image; database pictures from --db-data or from the names (files).
        auto db_image = [&](size_t idx, Image& img) -> bool {
            try {
                if (dbds) dbds->item(idx, img);
                else load_image(std::string(db.name(idx)), img, true, po.max_pixels);
                return true;
            } catch (const std::exception&) {
                return false;
            }
        };
        std::string page;
        page += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dlbhc retrieval report</title>\n<style>"
                "body{font-family:sans-serif;margin:2em} table.m{border-collapse:collapse} table.m td,table.m th{border:1px "
                "solid #ccc;padding:4px 8px;text-align:right} img.t{width:56px;height:56px;image-rendering:pixelated;border:3px "
                "solid #fff} img.ok{border-color:#2ca02c} img.no{border-color:#d62728} img.q{border-color:#1f77b4} "
                ".row{display:flex;align-items:center;gap:4px;margin:6px 0} .lab{width:12em;font-size:12px}</style></head><body>\n";
        page += "<h1>dlbhc retrieval report</h1>\n<p>" + html_escape(std::to_string(Q)) + " queries from <code>" +
                html_escape(a.get("queries", "")) + "</code> against " + std::to_string(db.size()) + " items of <code>" +
                html_escape(db.path()) + "</code>, " + std::to_string(db.bits()) + "-bit codes; net <code>" +
                html_escape(po.net_path) + "</code>, weights <code>" + html_escape(a.get("weights", "")) + "</code>.</p>\n";
        page += "<table class=\"m\"><tr><th>search</th><th>mAP@" + std::to_string(K) +
                "</th><th>mAP (whole ranking)</th><th>P@1</th><th>P@10</th><th>P@100</th><th>P@" + std::to_string(kl) +
                "</th><th>P(r&le;" + std::to_string(R) + ")</th></tr>\n";
        page += "<tr><td>coarse (Hamming)</td><td>" + fmt(coarse.map_at_k_precision_m) + "</td><td>" +
                fmt(coarse.map_whole_ranking) + "</td><td>" + fmt(p_at(cfg.precision_ks, coarse.precision_at_k, 1)) + "</td><td>" +
                fmt(p_at(cfg.precision_ks, coarse.precision_at_k, 10)) + "</td><td>" +
                fmt(p_at(cfg.precision_ks, coarse.precision_at_k, 100)) + "</td><td>" +
                fmt(p_at(cfg.precision_ks, coarse.precision_at_k, kl)) + "</td><td>" + fmt(coarse.within_radius_le.precision) +
                "</td></tr>\n";
        if (fr.done)
            page += "<tr><td>coarse + fine</td><td>" + fmt(fr.map_at_k) + "</td><td>-</td><td>" +
                    fmt(p_at(cfg.precision_ks, fr.precision_at_k, 1)) + "</td><td>" +
                    fmt(p_at(cfg.precision_ks, fr.precision_at_k, 10)) + "</td><td>" +
                    fmt(p_at(cfg.precision_ks, fr.precision_at_k, 100)) + "</td><td>" +
                    fmt(p_at(cfg.precision_ks, fr.precision_at_k, kl)) + "</td><td>-</td></tr>\n";
        page += "</table>\n<p>mAP@K follows the authors' precision.m (AP divided by the relevant items within the top K); "
                "Hamming ties keep database order; the fine stage re-ranks the items with Hamming distance &lt; " +
                std::to_string(T) + " (at least " + std::to_string(K) + ") by Euclidean feature distance.</p>\n";
        page += "<p><img src=\"" + html_escape(svgname) + "\" alt=\"precision at k\"></p>\n<h2>Top 10 of some queries</h2>\n"
                "<p>Blue: the query. Green: same class. Red: another class. Each query shows coarse (Hamming) results, "
                "then coarse + fine.</p>\n";
        Image img;
        size_t pictures = 0, missing = 0;
        auto picture = [&](const std::string& name, const Image& im) -> std::string {
            refuse_overwriting_inputs({{"--html picture", dir + "/" + files + "/" + name}}, inputs);
            save_png(dir + "/" + files + "/" + name, im);
            ++pictures;
            return files + "/" + name;
        };
        // The same rows as one picture (examples.png), for places that show no HTML.
        std::vector<Image> keep;
        keep.reserve(size_t(examples) * 22);
        std::vector<std::vector<MontageCell>> mrows;
        for (int e = 0; e < examples; ++e) {
            const size_t qi = size_t(e) * Q / size_t(examples);
            qds->item(qi, img);
            keep.push_back(img);
            const Image* qimg = &keep.back();
            std::string qsrc = picture("q" + std::to_string(qi) + ".png", img);
            auto row = [&](const char* what, const std::vector<uint32_t>& idx, const std::vector<std::string>& notes) {
                mrows.emplace_back();
                MontageCell qc;
                qc.image = qimg;
                qc.frame[0] = 180, qc.frame[1] = 119, qc.frame[2] = 31;  // blue (BGR)
                mrows.back().push_back(qc);
                page += "<div class=\"row\"><div class=\"lab\">" + std::string(what) + "<br>query " + std::to_string(qi) +
                        ", label " + std::to_string(q.labels[qi]) + "</div><img class=\"t q\" src=\"" + html_escape(qsrc) + "\">";
                for (size_t j = 0; j < idx.size(); ++j) {
                    const bool ok = db.label(idx[j]) == q.labels[qi];
                    std::string title = std::string(db.name(idx[j])) + ", label " + std::to_string(db.label(idx[j])) + ", " + notes[j];
                    if (db_image(idx[j], img)) {
                        keep.push_back(img);
                        MontageCell mc;
                        mc.image = &keep.back();
                        mc.frame[0] = ok ? 44 : 40, mc.frame[1] = ok ? 160 : 39, mc.frame[2] = ok ? 44 : 214;
                        mrows.back().push_back(mc);
                        page += "<img class=\"t " + std::string(ok ? "ok" : "no") + "\" title=\"" + html_escape(title) +
                                "\" src=\"" + html_escape(picture("d" + std::to_string(idx[j]) + ".png", img)) + "\">";
                    } else {
                        ++missing;
                        page += "<span title=\"" + html_escape(title) + "\">[" + std::to_string(idx[j]) + "]</span>";
                    }
                }
                page += "</div>\n";
            };
            auto hits = hamming_knn(db.codes(), q.codes.code(qi), 10);
            std::vector<uint32_t> idx;
            std::vector<std::string> notes;
            for (const auto& h : hits) idx.push_back(h.index), notes.push_back("Hamming " + std::to_string(h.distance));
            row("coarse", idx, notes);
            if (fr.done) {
                idx.clear(), notes.clear();
                for (size_t j = 0; j < fr.results[qi].hits.size() && j < 10; ++j) {
                    const auto& h = fr.results[qi].hits[j];
                    char b[64];
                    std::snprintf(b, sizeof b, "Hamming %u, Euclidean %.3f", h.hamming, h.euclidean);
                    idx.push_back(h.index), notes.push_back(b);
                }
                row("coarse + fine", idx, notes);
            }
        }
        if (!mrows.empty()) {
            refuse_overwriting_inputs({{"--html picture", dir + "/" + files + "/examples.png"}}, inputs);
            save_png(dir + "/" + files + "/examples.png", montage(mrows));
            page += "<p>All rows as one picture: <a href=\"" + html_escape(files + "/examples.png") + "\">examples.png</a></p>\n";
        }
        page += "</body></html>\n";
        write_text_atomic(html, page, "HTML report");
        std::printf("report written to %s (%zu pictures in %s/%s)%s\n", html.c_str(), pictures, dir.c_str(), files.c_str(),
                    missing ? " -- some database images could not be shown: pass --db-data" : "");
    }
    return 0;
}

}  // namespace dlbhc
