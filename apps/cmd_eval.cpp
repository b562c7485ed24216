// apps/cmd_eval.cpp -- `dlbhc eval`: the paper's retrieval protocol on a query set against an
// index, coarse (Hamming) and coarse + fine (Hamming pool re-ranked by feature distance).
#include <algorithm>
#include <chrono>
#include <cctype>
#include <climits>
#include <cstdint>
#include <tuple>
#include <cstdio>
#include <functional>
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
#include "data/shard.h"
#include "data/source.h"
#include "search/eval.h"
#include "search/hierarchical.h"
#include "search/index_file.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc eval --net NET.prototxt --weights W.weights --index DB.idx --queries [LABEL=]SPEC [options]\n"
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
    "  coarse,ties  the tie-aware mAP@K and P@k of the coarse search: their expected values over\n"
    "             every order of the items at equal Hamming distance, computed exactly per distance\n"
    "             level (the database order above is one of those orders; papers' figures may use\n"
    "             either convention)\n"
    "  --net, --weights     the trained net (as for `dlbhc index`)\n"
    "  --index FILE         the database (from `dlbhc index`)\n"
    "  --queries [LABEL=]SPEC  query images with labels (same forms as `dlbhc index --data`); may be\n"
    "                       repeated, each set evaluated on its own (a panel of the plot each) and\n"
    "                       named by LABEL (letters, digits, '-', '_'; default: SPEC). A set that\n"
    "                       resolves to the same dataset files as the data source the index records,\n"
    "                       which it holds whole, is the database itself (the paper's training-set\n"
    "                       queries): each query's own item (same item number) is left out of its\n"
    "                       ranking, and the output says so\n"
    "  --modes LIST         comma-separated, any of: bcs (the whole Hamming ranking, \"coarse\"), hds\n"
    "                       (coarse + fine), es (exhaustive Euclidean search on the index's\n"
    "                       features); default bcs,hds. With es the time per query of each mode and\n"
    "                       the speed-up of HDS over ES are printed\n"
    "  --baseline-net N, --baseline-weights W   also ES on the features of another net (the paper's\n"
    "                       pre-trained AlexNet; a net without latent layer gives the input of its\n"
    "                       last InnerProduct layer, fc7): the queries are encoded with it, and the\n"
    "                       database from --baseline-index, or else on the fly from --db-data or the\n"
    "                       data source the index records\n"
    "  --baseline-index F   an index built with the baseline net and weights (its provenance is\n"
    "                       checked) of the same items as --index\n"
    "  --k K                mAP@K and the fine stage's list length (default 1000)\n"
    "  --threshold T        fine stage pool: Hamming distance < T (default 8)\n"
    "  --radius R           for the within-radius precision (default 2)\n"
    "  --max-queries [LABEL=]N  use only the first N queries (of set LABEL; may be repeated)\n"
    "  --no-fine            coarse only (the same as --modes bcs)\n"
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

// k = 1..1000 on a log axis, as the paper's plots (and every k the table shows).
const std::vector<size_t> kPlotKs = {1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  12,  15,  20,  25,  30,  40,  50,
                                     60,  70,  80,  90,  100, 120, 150, 200, 250, 300, 400, 500, 600, 700, 800, 900, 1000};

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

// Queries encoded and searched together: the set's features, latent outputs and rankings are
// held for one chunk at a time, never for every query (the metrics are summed chunk by chunk).
constexpr size_t kQueryChunk = 1024;

// --modes (and --no-fine): which of the paper's searches run.
struct Modes {
    bool bcs = true, hds = true, es = false;
};

Modes parse_modes(const Args& a) {
    Modes m;
    if (!a.has("modes")) {
        m.hds = !a.has("no-fine");
        return m;
    }
    const std::string list = a.get("modes", "");
    const char* expected = " (expected a comma-separated list of bcs, hds, es)";
    m.bcs = m.hds = false;
    std::vector<std::string> seen;
    size_t start = 0;
    while (true) {
        const size_t comma = list.find(',', start);
        const std::string mode = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (mode.empty()) throw std::invalid_argument("--modes '" + list + "': an empty mode" + expected);
        if (std::find(seen.begin(), seen.end(), mode) != seen.end())
            throw std::invalid_argument("--modes '" + list + "': '" + mode + "' is given twice");
        seen.push_back(mode);
        if (mode == "bcs") m.bcs = true;
        else if (mode == "hds") m.hds = true;
        else if (mode == "es") m.es = true;
        else throw std::invalid_argument("--modes '" + list + "': unknown mode '" + mode + "'" + expected);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (m.hds && a.has("no-fine"))
        throw std::invalid_argument("--no-fine (no coarse + fine stage) contradicts --modes '" + list + "', which asks for hds");
    return m;
}

// One --queries: its label ("" for a single unlabelled set), dataset spec and query limit.
struct QuerySet {
    std::string label, spec;
    size_t max = SIZE_MAX;
};

// "LABEL=VALUE" -> {LABEL, VALUE} when the text before the first '=' is a label (letters, digits,
// '-', '_'); else {"", text}.
std::pair<std::string, std::string> split_label(const std::string& text) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) return {"", text};
    for (size_t i = 0; i < eq; ++i)
        if (!std::isalnum((unsigned char)text[i]) && text[i] != '-' && text[i] != '_') return {"", text};
    return {text.substr(0, eq), text.substr(eq + 1)};
}

// Every --queries with its --max-queries (a limit without a label applies to every set; one with
// a label to that set, before a general one).
std::vector<QuerySet> query_sets(const Args& a) {
    std::vector<QuerySet> sets;
    const std::vector<std::string> given = a.get_all("queries");
    for (const std::string& q : given) {
        QuerySet s;
        std::tie(s.label, s.spec) = split_label(q);
        if (s.spec.empty()) throw std::invalid_argument("--queries '" + q + "': no dataset after the label");
        if (s.label.empty() && given.size() > 1) s.label = s.spec;
        for (const QuerySet& o : sets)
            if (o.label == s.label)
                throw std::invalid_argument("--queries: two query sets are labelled '" + s.label +
                                            "' (give each its own label, --queries LABEL=SPEC)");
        sets.push_back(s);
    }
    for (int pass = 0; pass < 2; ++pass)  // general limits first, then the labelled ones override them
        for (const std::string& m : a.get_all("max-queries")) {
            const auto lv = split_label(m);
            size_t n = 0;
            if (!parse_size(lv.second, n) || n < 1)
                throw std::invalid_argument("option --max-queries expects an integer >= 1 (N, or LABEL=N for one query set), got '" +
                                            m + "'");
            if ((pass == 0) != lv.first.empty()) continue;
            bool found = lv.first.empty();
            for (QuerySet& s : sets)
                if (lv.first.empty() || s.label == lv.first) s.max = n, found = true;
            if (!found) throw std::invalid_argument("--max-queries '" + m + "': no --queries is labelled '" + lv.first + "'");
        }
    return sets;
}

// The query set as a dataset: its first `max` items.
std::unique_ptr<Dataset> open_query_set(const QuerySet& qs, const SourceOptions& so) {
    auto ds = open_dataset(qs.spec, so);
    const size_t n = std::min(ds->size(), qs.max);
    if (n == 0) throw std::invalid_argument("--queries '" + qs.spec + "': no queries");
    if (n == ds->size()) return ds;
    return std::make_unique<RangeDataset>(std::move(ds), ItemRange{0, n});
}

// The queries the report page shows, spread evenly over the first set: their positions in the
// set, codes and labels, and their top 10 of the fine stage when it ran. Kept while the set is
// searched a chunk at a time.
struct ShownKeep {
    std::vector<size_t> at;          // positions in the query set, ascending
    EncodedSet q;                    // their codes and labels (no features)
    std::vector<HierarchicalResult> fine;
    // The shown positions among `examples` evenly spread over `queries`.
    void choose(size_t queries, int examples) {
        for (int e = 0; e < examples; ++e) at.push_back(size_t(e) * queries / size_t(examples));
        fine.resize(at.size());
    }
};

// Coarse + fine over one chunk of queries (items `first`.. of the set): pool below the threshold
// (at least K items), ranked by feature distance, each query's own item left out; the re-ranked
// lists are added to `into`, s.mean_pool (a sum until the set ends), s.widened and s.t_fine, and the
// shown queries' top 10 kept.
void fine_stage(const IndexFile& db, const EncodedSet& q, size_t first, const EvalConfig& cfg, const int64_t* own,
                RetrievalEval& into, EvalSummary& s, ShownKeep& keep) {
    HierarchicalOptions ho;
    ho.pool = HierarchicalOptions::Pool::Radius;
    ho.threshold = s.threshold;
    ho.rule = RadiusRule::LessThan;
    ho.min_pool = size_t(s.K) + (own ? 1 : 0);
    const auto t0 = SteadyClock::now();
    const size_t n = q.codes.size();
    const CodeView qv{q.codes.code(0), n, q.codes.bits(), q.codes.words()};
    std::vector<HierarchicalResult> r =
        hierarchical_search_batch(db.codes(), db.features(), qv, q.features.data(), size_t(s.K) + (own ? 1 : 0), ho);
    std::vector<std::vector<uint32_t>> lists(n);
    for (size_t i = 0; i < n; ++i) {
        auto& hits = r[i].hits;
        if (own) {
            const int64_t self = own[i];
            hits.erase(std::remove_if(hits.begin(), hits.end(), [&](const HierarchicalHit& h) { return int64_t(h.index) == self; }),
                       hits.end());
            if (hits.size() > size_t(s.K)) hits.resize(size_t(s.K));
        }
        for (const auto& h : hits) lists[i].push_back(h.index);
        s.mean_pool += double(r[i].pool_size);
        s.widened += r[i].widened;
        for (size_t e = 0; e < keep.at.size(); ++e)
            if (keep.at[e] == first + i) {
                keep.fine[e] = r[i];
                if (keep.fine[e].hits.size() > 10) keep.fine[e].hits.resize(10);  // what the report page shows
            }
    }
    add_ranked_lists(into, lists, db.labels(), q.labels.data());
    s.t_fine += seconds_since(t0);
    s.fine = true;
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
// the coarse search and, when it ran, of the fine stage (the query's own item left out).
std::vector<ShownQuery> shown_queries(const IndexFile& db, const ShownKeep& keep, const EvalSummary& s) {
    std::vector<ShownQuery> shown;
    for (size_t e = 0; e < keep.at.size(); ++e) {
        ShownQuery sq;
        sq.query = keep.at[e];
        sq.label = keep.q.labels[e];
        sq.rows.emplace_back("coarse", std::vector<ShownResult>());
        for (const auto& h : hamming_knn(db.codes(), keep.q.codes.code(e), 11)) {
            if (s.own_items && h.index == sq.query) continue;
            if (sq.rows.back().second.size() < 10)
                sq.rows.back().second.push_back(shown_result(db, h.index, "Hamming " + std::to_string(h.distance)));
        }
        if (s.fine) {
            sq.rows.emplace_back("coarse + fine", std::vector<ShownResult>());
            for (size_t j = 0; j < keep.fine[e].hits.size() && j < 10; ++j) {
                const auto& h = keep.fine[e].hits[j];
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
// item names when they are image files); the shown queries are the first set's.
// `no_db_data`: why the recorded data source could not give the pictures ("" when it did, or
// --db-data was given).
void write_eval_page(const Args& a, const Dataset* dbds, const std::string& no_db_data, const PipelineOptions& po,
                     const IndexFile& db, const Dataset& qds, const ShownKeep& keep, const std::vector<EvalSummary>& sets) {
    const std::string html = a.get("html", "");
    HtmlPageWriter w(html, "HTML report");
    size_t missing = 0;
    const std::string page = eval_html_page(sets, shown_queries(db, keep, sets.at(0)),
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

void write_json_and_svg(const Args& a, const std::vector<EvalSummary>& sets) {
    if (a.has("json")) {
        write_text_atomic(a.get("json", ""), eval_json(sets), "JSON report");
        std::printf("metrics written to %s\n", a.get("json", "").c_str());
    }
    if (a.has("svg")) {
        write_text_atomic(a.get("svg", ""), eval_plot_svg(sets), "SVG plot");
        std::printf("plot written to %s\n", a.get("svg", "").c_str());
    }
}

// The baseline (--baseline-net): its net ready to encode and the database's features, from
// --baseline-index or encoded from the database's images.
struct Baseline {
    PipelineOptions po;
    std::string weights;
    EncodeSetup es;
    std::unique_ptr<IndexFile> index;  // --baseline-index
    std::vector<float> features;       // encoded on the fly (N, D)
    std::string source;                // where the database features come from
    FeatureView db() const {
        if (index) return index->features();
        return FeatureView{features.data(), features.size() / size_t(std::max(es.feature_dim, 1)), es.feature_dim,
                           FeatureType::F32};
    }
};

// Before any encoding: the baseline net and weights read and built, and --baseline-index checked
// against them and against --index (the same items); without it, the database's images
// (`dbds`, from --db-data or the recorded source) must be there. `ds` fixes the input shape.
std::unique_ptr<Baseline> baseline_setup(const Args& a, const PipelineOptions& po, const IndexFile& db, const Dataset* dbds,
                                         const std::string& no_db_data, const Dataset& ds) {
    if (!a.has("baseline-net")) return nullptr;
    auto b = std::make_unique<Baseline>();
    b->po = po;
    b->po.net_path = a.get("baseline-net", ""), b->po.latent_bits = 0, b->po.num_classes = 0, b->po.mean_file = "";
    b->weights = a.get("baseline-weights", "");
    b->es = make_feature_setup(b->po, b->weights, dbds ? *dbds : ds, true);
    if (!a.has("baseline-index")) {
        if (!dbds)
            throw std::invalid_argument("--baseline-net: the database's images are needed to encode them with the baseline "
                                        "net, but " + no_db_data + ": give --db-data (or --baseline-index)");
        if (dbds->size() != db.size())
            throw std::invalid_argument("--db-data holds " + std::to_string(dbds->size()) + " items but index '" + db.path() +
                                        "' " + std::to_string(db.size()) + ": not the database's images");
        b->source = "encoded from " + std::string(a.has("db-data") ? "--db-data " + a.get("db-data", "") : "the index's data source");
        return b;
    }
    const std::string path = a.get("baseline-index", "");
    if (b->es.latent_blob.empty())
        throw std::invalid_argument("--baseline-index '" + path + "': --baseline-net '" + b->po.net_path +
                                    "' has no latent layer, so no index was built with it (leave --baseline-index out to "
                                    "encode the database with it)");
    b->index = std::make_unique<IndexFile>(IndexFile::open(path));
    if (!b->index->has_features()) throw std::invalid_argument("--baseline-index '" + path + "' has no features");
    if (b->index->size() != db.size() || !std::equal(db.labels(), db.labels() + db.size(), b->index->labels()))
        throw std::invalid_argument("--baseline-index '" + path + "' does not hold the items of --index '" + db.path() +
                                    "' (item counts " + std::to_string(b->index->size()) + " and " + std::to_string(db.size()) +
                                    ", or their labels, differ)");
    if (b->es.feature_dim != b->index->feature_dim())
        throw std::invalid_argument("--baseline-net's features have " + std::to_string(b->es.feature_dim) +
                                    " dimensions but --baseline-index '" + path + "' stores " +
                                    std::to_string(b->index->feature_dim()));
    check_index_provenance(*b->index, codes_provenance(b->es, 0, b->weights), b->po.net_path, b->weights);
    b->source = "from --baseline-index " + path;
    return b;
}

// Everything one query set's evaluation needs that does not change between sets.
struct EvalRun {
    const Args* a = nullptr;
    const IndexFile* db = nullptr;
    EncodeSetup* es = nullptr;
    Baseline* baseline = nullptr;
    Modes modes;
    EvalConfig cfg;
    SourceOptions so;
    EvalSummary base;  // the fields every set shares
};

// Runs `es` over the query set a chunk of kQueryChunk queries at a time, handing `search` each
// chunk (an EncodedSet of its queries alone) and its first item's position in the set; returns the
// seconds spent encoding (the time outside `search`).
double encode_in_chunks(EncodeSetup& es, const Dataset& qds, bool keep_features,
                        const std::function<void(const EncodedSet&, size_t)>& search) {
    const auto t0 = SteadyClock::now();
    double searching = 0;
    EncodedSet chunk;
    size_t first = 0;
    auto flush = [&] {
        const auto t1 = SteadyClock::now();
        search(chunk, first);
        searching += seconds_since(t1);
        first += chunk.labels.size();
        chunk = EncodedSet();
    };
    encode_batches(es, qds, keep_features, true, [&](const EncodedSet& b, size_t at) {
        if (chunk.labels.empty()) chunk = b;  // takes the batch's code length and feature dimension
        else append_items(chunk, b);
        if (chunk.labels.size() >= kQueryChunk || at + b.labels.size() == qds.size()) flush();
    });
    return seconds_since(t0) - searching;
}

// The own items of the queries first .. first + n - 1 when the queries are the database's items
// (query i is item i); empty otherwise.
std::vector<int64_t> own_items(bool queries_are_items, size_t first, size_t n) {
    std::vector<int64_t> own;
    if (queries_are_items)
        for (size_t i = 0; i < n; ++i) own.push_back(int64_t(first + i));
    return own;
}

// The baseline's ES for one query set (the queries encoded with the baseline net, a chunk at a time).
void run_baseline(const EvalRun& r, const Dataset& qds, bool queries_are_items, EvalSummary& s) {
    RetrievalEval ev = ranked_lists_eval(r.cfg);
    double searching = 0;
    s.t_baseline_encode = encode_in_chunks(r.baseline->es, qds, true, [&](const EncodedSet& bq, size_t first) {
        const auto t0 = SteadyClock::now();
        const std::vector<int64_t> own = own_items(queries_are_items, first, bq.labels.size());
        add_exhaustive(ev, r.baseline->db(), r.db->labels(), bq.features.data(), bq.labels.size(), bq.labels.data(),
                       size_t(r.cfg.K), own.empty() ? nullptr : own.data());
        searching += seconds_since(t0);
    });
    s.baseline_report = ranked_lists_report(ev);
    s.t_baseline = searching;
    s.baseline = true;
    s.baseline_net = r.baseline->es.net->name() + " (" + r.baseline->po.net_path + ")";
    s.baseline_weights = r.baseline->weights;
    s.baseline_source = r.baseline->source;
    s.baseline_dim = r.baseline->es.feature_dim;
}

// One query set, every mode, a chunk of queries at a time. `keep` holds the shown queries (for the
// page) when it has positions to keep.
EvalSummary run_query_set(const EvalRun& r, const QuerySet& qs, const Dataset& qds, ShownKeep& keep) {
    const IndexFile& db = *r.db;
    EvalSummary s = r.base;
    s.label = qs.label, s.queries_source = qs.spec;
    s.queries = qds.size();
    const bool items = queries_are_index_items(db, qs.spec, r.so);
    s.own_items = items ? s.queries : 0;
    s.ks = r.cfg.precision_ks;
    s.bcs = r.modes.bcs;
    s.es = r.modes.es;
    if (s.es) s.feature_dim = db.feature_dim();
    RetrievalEval coarse = hamming_ranking_eval(r.cfg, db.bits()), fine = ranked_lists_eval(r.cfg),
                  exhaustive = ranked_lists_eval(r.cfg);
    BinarinessSum binary(db.bits());
    keep.q.codes = CodeSet(db.bits());
    s.t_encode = encode_in_chunks(*r.es, qds, r.modes.hds || r.modes.es, [&](const EncodedSet& q, size_t first) {
        const size_t n = q.codes.size();
        const std::vector<int64_t> own = own_items(items, first, n);
        const int64_t* ownp = own.empty() ? nullptr : own.data();
        const CodeView qv{q.codes.code(0), n, q.codes.bits(), q.codes.words()};
        binary.add(q.activations.data(), n);
        for (size_t e = 0; e < keep.at.size(); ++e)
            if (keep.at[e] >= first && keep.at[e] < first + n) {
                keep.q.codes.add(q.codes.code(keep.at[e] - first));
                keep.q.labels.push_back(q.labels[keep.at[e] - first]);
            }
        auto t0 = SteadyClock::now();
        if (r.modes.bcs) {  // the whole ranking by Hamming distance
            add_hamming_ranking(coarse, db.codes(), db.labels(), qv, q.labels.data(), {}, ownp);
            s.t_coarse += seconds_since(t0);
        }
        if (r.modes.hds) fine_stage(db, q, first, r.cfg, ownp, fine, s, keep);
        if (r.modes.es) {
            t0 = SteadyClock::now();
            add_exhaustive(exhaustive, db.features(), db.labels(), q.features.data(), n, q.labels.data(), size_t(r.cfg.K), ownp);
            s.t_es += seconds_since(t0);
        }
    });
    if (r.modes.bcs) s.coarse = coarse.report();
    if (r.modes.hds) s.reranked = ranked_lists_report(fine), s.mean_pool /= double(s.queries);
    if (r.modes.es) s.exhaustive = ranked_lists_report(exhaustive);
    if (r.baseline) run_baseline(r, qds, items, s);
    s.near_binary = binary.result().near_binary;
    return s;
}

// Before any work: the outputs, and that none of them is an input (the files of every dataset,
// net, weights, index and mean).
void check_eval_files(const Args& a, const PipelineOptions& po, const SourceOptions& so, const std::vector<QuerySet>& sets) {
    check_eval_outputs(a);
    std::vector<NamedPath> inputs = option_paths(a, {"net", "weights", "index", "db-data", "mean", "baseline-net",
                                                     "baseline-weights", "baseline-index"});
    for (const QuerySet& qs : sets) {
        inputs.push_back({"--queries", qs.spec});
        add_dataset_inputs(inputs, "--queries", qs.spec, so);
    }
    add_dataset_inputs(inputs, "--db-data", a.get("db-data", ""), so);
    add_net_data_inputs(inputs, po, false);
    refuse_overwriting_inputs(option_paths(a, {"json", "svg", "html"}), inputs);
    if (a.has("html")) check_html_page(a.get("html", ""), option_paths(a, {"json", "svg"}), inputs);
    if (a.has("baseline-net") != a.has("baseline-weights"))
        throw std::invalid_argument("--baseline-net and --baseline-weights go together: the baseline net and its weights");
    if (a.has("baseline-index") && !a.has("baseline-net"))
        throw std::invalid_argument("--baseline-index needs --baseline-net and --baseline-weights (the net it was built with)");
    if (a.has("baseline-net")) check_input_file(a.get("baseline-net", ""), "--baseline-net");
    if (a.has("baseline-weights")) check_input_file(a.get("baseline-weights", ""), "--baseline-weights");
}

}  // namespace

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc eval --net weights/small_dlbhc_train_val.prototxt --weights demo/small_dlbhc.weights "
        "--index demo/fashion_train.idx --queries /usr/share/datasets/fashion-mnist/t10k --db-data "
        "/usr/share/datasets/fashion-mnist/train --html demo/report.html\n"
    "  dlbhc eval --net weights/small_dlbhc_train_val.prototxt --weights demo/small_dlbhc.weights "
        "--index demo/fashion_train.idx --queries train=/usr/share/datasets/fashion-mnist/train --max-queries train=1000 "
        "--queries test=/usr/share/datasets/fashion-mnist/t10k --modes bcs,hds,es --svg demo/modes.svg\n";

int cmd_eval(const std::vector<std::string>& argv) {
    Args a(argv,
           {"mean", "net", "weights", "index", "queries", "k", "threshold", "radius", "max-queries", "json", "svg", "html",
            "db-data", "examples", "bits", "classes", "batch", "root", "max-pixels", "modes", "baseline-net",
            "baseline-weights", "baseline-index"},
           {"no-fine", "strict", "help"}, {"queries", "max-queries"});
    if (print_help(a, {kHelp, kMaxPixelsHelp, kExamples})) return 0;
    a.expect_no_positional();
    a.require({"net", "weights", "index", "queries"});
    // Every option, output and file that can be checked is checked before the queries are encoded.
    const int K = a.get_int_in("k", 1000, 1, INT_MAX), T = a.get_int_in("threshold", 8, 0, INT_MAX),
              R = a.get_int_in("radius", 2, 0, INT_MAX);
    a.get_int_in("examples", 6, 0, 1000);  // checked now, read by write_eval_page
    EvalRun run;
    run.a = &a;
    run.modes = parse_modes(a);
    const std::vector<QuerySet> sets = query_sets(a);
    const PipelineOptions po = pipeline_options(a, 100);
    run.so = source_options(po);
    check_eval_files(a, po, run.so, sets);

    IndexFile db = IndexFile::open(a.get("index", ""));
    run.db = &db;
    const bool features = run.modes.hds || run.modes.es;
    if (features && !db.has_features())
        throw std::invalid_argument("index '" + db.path() + "' has no features: the fine stage (hds) and exhaustive search "
                                    "(es) need them (or use --modes bcs)");
    std::unique_ptr<Dataset> dbds;  // the database's pictures for --html, its images for the baseline
    std::string no_db_data;         // why the recorded data source cannot give them
    const bool need_db = a.has("html") || (a.has("baseline-net") && !a.has("baseline-index"));
    if (need_db && a.has("db-data")) dbds = open_dataset(a.get("db-data", ""), run.so);
    if (need_db && !a.has("db-data")) dbds = recorded_db_data(db, run.so, no_db_data);
    std::vector<std::unique_ptr<Dataset>> qds;
    for (const QuerySet& qs : sets) qds.push_back(open_query_set(qs, run.so));
    EncodeSetup es = make_encode_setup(po, a.get("weights", ""), *qds[0]);
    run.es = &es;
    check_net_fits_index(es, db, features);
    check_index_provenance(db, codes_provenance(es, po.latent_bits, a.get("weights", "")), po.net_path,
                           a.get("weights", ""));
    std::unique_ptr<Baseline> baseline = baseline_setup(a, po, db, dbds.get(), no_db_data, *qds[0]);
    run.baseline = baseline.get();
    if (baseline && !baseline->index) {  // the database's features with the baseline net
        std::fprintf(stderr, "encoding the database with the baseline net %s\n", baseline->po.net_path.c_str());
        baseline->features = encode_dataset(baseline->es, *dbds, true, true).features;
    }

    run.cfg = eval_config(K, R);
    EvalSummary& b = run.base;
    b.database = db.size(), b.bits = db.bits();
    b.K = K, b.radius = R, b.threshold = T;
    b.index_path = db.path();
    b.net_path = po.net_path, b.weights_path = a.get("weights", "");
    std::vector<EvalSummary> results;
    ShownKeep keep, none;  // the page shows queries of the first set
    if (a.has("html")) keep.choose(qds[0]->size(), a.get_int("examples", 6));
    for (size_t i = 0; i < sets.size(); ++i) {
        results.push_back(run_query_set(run, sets[i], *qds[i], i == 0 ? keep : none));
        print_eval_table(results.back());
    }
    write_json_and_svg(a, results);
    if (a.has("html")) write_eval_page(a, dbds.get(), no_db_data, po, db, *qds[0], keep, results);
    return 0;
}

}  // namespace dlbhc
