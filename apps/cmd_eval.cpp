// apps/cmd_eval.cpp -- `dlbhc eval`: the paper's retrieval protocol on a query set against an
// index, coarse (Hamming) and coarse + fine (Hamming pool re-ranked by feature distance).
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/encode.h"
#include "apps/net_setup.h"
#include "apps/options.h"
#include "apps/progress.h"
#include "apps/provenance.h"
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
    "                       index's item names are not image files. The pictures go to the folder\n"
    "                       <stem>_files beside it, replaced as a whole: it may hold only .png and\n"
    "                       .svg files and no other output (checked before the evaluation)\n"
    "  --db-data SPEC       the dataset the index was built from (for pictures; default: the data\n"
    "                       source the index records, when it opens here and matches the index)\n"
    "  --examples N         queries shown in the HTML report (default 6)\n"
    "  --bits H, --classes K, --batch N, --mean FILE, --root DIR, --strict   as for `dlbhc index`\n"
    "The net, weights and preprocessing must be those the index was built with (its provenance,\n"
    "`dlbhc info DB.idx`): other ones are refused before any query is encoded, naming both.\n";

namespace {

using SteadyClock = std::chrono::steady_clock;

const std::vector<size_t> kPlotKs = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};

double seconds_since(SteadyClock::time_point t0) { return std::chrono::duration<double>(SteadyClock::now() - t0).count(); }

// mAP@K, P@k for the plot's k up to K, precision within radius R; no PR curve.
EvalConfig eval_config(int K, int R) {
    EvalConfig cfg;
    cfg.K = size_t(K);
    cfg.precision_ks = kPlotKs;
    while (!cfg.precision_ks.empty() && cfg.precision_ks.back() > size_t(K)) cfg.precision_ks.pop_back();
    cfg.radius = R;
    cfg.pr_curve = false;
    return cfg;
}

// Queries searched at once by the fine stage: the pools and results of one batch are held, not
// those of every query (a pool can reach N items).
constexpr size_t kFineQueryBatch = 256;

// Coarse + fine: pool below the threshold (at least K items), ranked by feature distance. Fills
// s.fine, s.reranked, s.mean_pool, s.widened and s.t_fine; returns each query's results (their
// first 10 hits: what the report page shows).
std::vector<HierarchicalResult> fine_stage(const IndexFile& db, const CodeView& qv, const EncodedSet& q, const EvalConfig& cfg,
                                           EvalSummary& s) {
    HierarchicalOptions ho;
    ho.pool = HierarchicalOptions::Pool::Radius;
    ho.threshold = s.threshold;
    ho.rule = RadiusRule::LessThan;
    ho.min_pool = size_t(s.K);
    const auto t0 = SteadyClock::now();
    std::vector<HierarchicalResult> results(s.queries);
    std::vector<std::vector<uint32_t>> lists(s.queries);
    Progress shown("searched", "queries", "queries", s.queries, true, kFineQueryBatch * 8);
    for (size_t at = 0; at < s.queries; at += kFineQueryBatch) {
        const CodeView part{qv.code(at), std::min(kFineQueryBatch, s.queries - at), qv.bits, qv.words};
        std::vector<HierarchicalResult> r = hierarchical_search_batch(
            db.codes(), db.features(), part, q.features.data() + at * size_t(q.feature_dim), size_t(s.K), ho);
        for (size_t i = 0; i < part.n; ++i) {
            for (const auto& h : r[i].hits) lists[at + i].push_back(h.index);
            s.mean_pool += double(r[i].pool_size);
            s.widened += r[i].widened;
            if (r[i].hits.size() > 10) r[i].hits.resize(10);
            results[at + i] = std::move(r[i]);
        }
        shown.set(at + part.n);
    }
    s.t_fine = seconds_since(t0);
    s.fine = true;
    s.mean_pool /= double(s.queries);
    s.reranked = evaluate_ranked_lists(lists, db.labels(), q.labels.data(), cfg);
    return results;
}

ShownResult shown_result(const IndexFile& db, uint32_t index, const std::string& note) {
    ShownResult r;
    r.index = index;
    r.label = db.label(index);
    r.name = std::string(db.name(index));
    r.note = note;
    return r;
}

// The queries the report page shows (spread evenly over the queries), each with its top 10 of
// the coarse search and, when it ran, of the fine stage.
std::vector<ShownQuery> shown_queries(const IndexFile& db, const EncodedSet& q, const std::vector<HierarchicalResult>& fine,
                                      const EvalSummary& s, int examples) {
    std::vector<ShownQuery> shown;
    for (int e = 0; e < examples; ++e) {
        ShownQuery sq;
        sq.query = size_t(e) * s.queries / size_t(examples);
        sq.label = q.labels[sq.query];
        sq.rows.emplace_back("coarse", std::vector<ShownResult>());
        for (const auto& h : hamming_knn(db.codes(), q.codes.code(sq.query), 10))
            sq.rows.back().second.push_back(shown_result(db, h.index, "Hamming " + std::to_string(h.distance)));
        if (s.fine) {
            sq.rows.emplace_back("coarse + fine", std::vector<ShownResult>());
            for (size_t j = 0; j < fine[sq.query].hits.size() && j < 10; ++j) {
                const auto& h = fine[sq.query].hits[j];
                char b[64];
                std::snprintf(b, sizeof b, "Hamming %u, Euclidean %.3f", h.hamming, h.euclidean);
                sq.rows.back().second.push_back(shown_result(db, h.index, b));
            }
        }
        shown.push_back(sq);
    }
    return shown;
}

// --html: the report page, its plot and pictures (database pictures from --db-data or from the
// item names when they are image files).
// `no_db_data`: why the recorded data source could not give the pictures ("" when it did, or
// --db-data was given).
void write_eval_page(const Args& a, const Dataset* dbds, const std::string& no_db_data, const PipelineOptions& po,
                     const IndexFile& db, const Dataset& qds, const EncodedSet& q,
                     const std::vector<HierarchicalResult>& fine, const EvalSummary& s) {
    const std::string html = a.get("html", "");
    HtmlPageWriter w(html, "HTML report");
    const int examples = std::max(0, a.get_int("examples", 6));
    size_t missing = 0;
    const std::string page = eval_html_page(s, shown_queries(db, q, fine, s, examples),
                                            [&](size_t qi, Image& img) { qds.item(qi, img); },
                                            db_pictures(dbds, db, po.max_pixels), w, missing);
    w.commit(page);
    std::printf("report written to %s (%zu pictures in %s/%s)%s\n", html.c_str(), w.pictures(), w.dir().c_str(),
                w.files().c_str(), missing ? " -- some database images could not be shown: pass --db-data" : "");
    if (missing && !no_db_data.empty()) std::fprintf(stderr, "dlbhc eval: --html: %s\n", no_db_data.c_str());
}

// --json, --svg and --html (its picture folder too): each can be written, and no two are one file.
void check_eval_outputs(const Args& a) {
    std::vector<std::pair<std::string, std::string>> outputs;
    for (const char* o : {"json", "svg", "html"})
        if (a.has(o)) {
            check_output_path(a.get(o, ""), std::string("--") + o);
            outputs.emplace_back(std::string("--") + o, a.get(o, ""));
        }
    // The page's picture folder is an output too (check_html_page refuses outputs inside it).
    if (a.has("html")) outputs.emplace_back("--html's picture folder", page_files_path(a.get("html", "")));
    check_distinct_outputs(outputs);
}

void write_json_and_svg(const Args& a, const EvalSummary& s) {
    if (a.has("json")) {
        write_text_atomic(a.get("json", ""), eval_json(s), "JSON report");
        std::printf("metrics written to %s\n", a.get("json", "").c_str());
    }
    if (a.has("svg")) {
        write_text_atomic(a.get("svg", ""), svg_precision_plot(eval_plot_series(s), eval_plot_title(s)), "SVG plot");
        std::printf("plot written to %s\n", a.get("svg", "").c_str());
    }
}

}  // namespace

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc eval --net weights/small_dlbhc_train_val.prototxt --weights demo/small_dlbhc.weights "
        "--index demo/fashion_train.idx --queries /usr/share/datasets/fashion-mnist/t10k --db-data "
        "/usr/share/datasets/fashion-mnist/train --html demo/report.html\n";

int cmd_eval(const std::vector<std::string>& argv) {
    Args a(argv,
           {"mean", "net", "weights", "index", "queries", "k", "threshold", "radius", "max-queries", "json", "svg", "html",
            "db-data", "examples", "bits", "classes", "batch", "root", "max-pixels"},
           {"no-fine", "strict", "help"});
    if (print_help(a, {kHelp, kMaxPixelsHelp, kExamples})) return 0;
    a.expect_no_positional();
    a.require({"net", "weights", "index", "queries"});
    // Every option, output and file that can be checked is checked before the queries are encoded.
    const int K = a.get_int_in("k", 1000, 1, INT_MAX), T = a.get_int_in("threshold", 8, 0, INT_MAX),
              R = a.get_int_in("radius", 2, 0, INT_MAX);
    const int max_queries = a.get_int_in("max-queries", INT_MAX, 1, INT_MAX);
    a.get_int_in("examples", 6, 0, 1000);  // checked now, read by write_eval_page
    check_eval_outputs(a);
    const PipelineOptions po = pipeline_options(a, 100);
    const SourceOptions so = source_options(po);
    // Every file the datasets resolve to, and the data layer's mean_file, is an input too.
    std::vector<NamedPath> inputs = option_paths(a, {"net", "weights", "index", "queries", "db-data", "mean"});
    add_dataset_inputs(inputs, "--queries", a.get("queries", ""), so);
    add_dataset_inputs(inputs, "--db-data", a.get("db-data", ""), so);
    add_net_data_inputs(inputs, po, false);
    refuse_overwriting_inputs(option_paths(a, {"json", "svg", "html"}), inputs);
    if (a.has("html")) check_html_page(a.get("html", ""), option_paths(a, {"json", "svg"}), inputs);
    using clock = std::chrono::steady_clock;

    IndexFile db = IndexFile::open(a.get("index", ""));
    const bool fine = !a.has("no-fine");
    if (fine && !db.has_features())
        throw std::invalid_argument("index '" + db.path() + "' has no features: the fine stage needs them (or use --no-fine)");
    std::unique_ptr<Dataset> dbds;  // pictures of the database items for --html
    std::string no_db_data;         // why the recorded data source cannot give them
    if (a.has("html") && a.has("db-data")) dbds = open_dataset(a.get("db-data", ""), so);
    if (a.has("html") && !a.has("db-data")) dbds = recorded_db_data(db, so, no_db_data);
    auto qds = open_dataset(a.get("queries", ""), so);
    EncodeSetup es = make_encode_setup(po, a.get("weights", ""), *qds);
    check_net_fits_index(es, db, fine);
    check_index_provenance(db, codes_provenance(es, po.latent_bits, a.get("weights", "")), po.net_path,
                           a.get("weights", ""));
    auto t0 = clock::now();
    EncodedSet q = encode_dataset(es, *qds, fine, true);
    const double t_encode = std::chrono::duration<double>(clock::now() - t0).count();
    const size_t Q = std::min(q.codes.size(), size_t(max_queries));
    if (Q == 0) throw std::invalid_argument("no queries");
    CodeView qv{q.codes.code(0), Q, q.codes.bits(), q.codes.words()};

    EvalSummary s;
    s.queries = Q, s.database = db.size(), s.bits = db.bits();
    s.K = K, s.radius = R, s.threshold = T;
    s.index_path = db.path(), s.queries_source = a.get("queries", "");
    s.net_path = po.net_path, s.weights_path = a.get("weights", "");
    s.t_encode = t_encode;

    // Coarse: the whole ranking by Hamming distance.
    const EvalConfig cfg = eval_config(K, R);
    s.ks = cfg.precision_ks;
    t0 = clock::now();
    s.coarse = evaluate_hamming_ranking(db.codes(), db.labels(), qv, q.labels.data(), cfg);
    s.t_coarse = seconds_since(t0);
    std::vector<HierarchicalResult> fine_results;
    if (fine) fine_results = fine_stage(db, qv, q, cfg, s);
    s.near_binary = binariness(q.activations, q.codes.bits()).near_binary;

    print_eval_table(s);
    write_json_and_svg(a, s);
    if (a.has("html")) write_eval_page(a, dbds.get(), no_db_data, po, db, *qds, q, fine_results, s);
    return 0;
}

}  // namespace dlbhc
