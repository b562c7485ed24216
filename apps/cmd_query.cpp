// apps/cmd_query.cpp -- `dlbhc query`: the top k of an index for one image.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/pipeline.h"
#include "apps/report.h"
#include "data/image_io.h"
#include "search/hamming_search.h"
#include "search/hierarchical.h"
#include "search/index_file.h"
#include "search/mih.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc query --net NET.prototxt --weights W.weights --index DB.idx (--image FILE | --item SPEC:I) [options]\n"
    "Encodes one image and prints the k most similar images of the index: coarse search by Hamming\n"
    "distance of the codes, then (unless --coarse-only) the candidates with Hamming distance\n"
    "< --threshold (widened to at least k) re-ranked by Euclidean distance of the features.\n"
    "  --image FILE         a JPEG or PNG query\n"
    "  --item SPEC:I        item I (0-based) of a dataset, e.g. /usr/share/datasets/fashion-mnist/t10k:17\n"
    "  --no-resize          refuse a query of another size or channel count than the net takes (by\n"
    "                       default it is converted, as the data layer would, and a line says so)\n"
    "  --k K                results (default 10)\n"
    "  --threshold T        fine stage pool: Hamming distance < T (default 8)\n"
    "  --coarse-only        Hamming ranking only\n"
    "  --mih                coarse stage by multi-index hashing (exact: the same results; builds the\n"
    "                       tables first, so it pays off for large indexes and small distances)\n"
    "  --json               print the results as JSON instead of a table\n"
    "  --html FILE          write a page with the query and its results as thumbnails (next to it)\n"
    "  --db-data SPEC       the dataset the index was built from (pictures, when names are not files)\n"
    "  --bits H, --classes K, --mean FILE, --root DIR   as for `dlbhc index`\n";

namespace {

// The top k of the index for the encoded query: the fine stage's re-ranked pool (Hamming
// distance < T, widened to at least k), or the Hamming ranking alone.
// mih: the coarse stage by multi-index hashing (same results), or nullptr for the linear scan.
QueryResults search_index(const IndexFile& db, const EncodedSet& q, bool fine, int k, int T, const MultiIndex* mih) {
    QueryResults r;
    r.fine = fine;
    auto add = [&](uint32_t index, uint32_t hamming, float euclid) {
        QueryHit h;
        h.index = index, h.hamming = hamming, h.euclid = euclid;
        h.label = db.label(index);
        h.name = std::string(db.name(index));
        r.hits.push_back(h);
    };
    if (fine) {
        if (q.feature_dim != db.feature_dim())
            throw std::invalid_argument("the net's features have " + std::to_string(q.feature_dim) + " dimensions but the index stores " +
                                        std::to_string(db.feature_dim()));
        HierarchicalOptions ho;
        ho.threshold = T;
        ho.min_pool = size_t(k);
        ho.mih = mih;
        HierarchicalResult h = hierarchical_search(db.codes(), db.features(), q.codes.code(0), q.features.data(), size_t(k), ho);
        r.pool = h.pool_size;
        for (const auto& hit : h.hits) add(hit.index, hit.hamming, hit.euclidean);
    } else {
        const uint64_t* qc = q.codes.code(0);
        for (const auto& hit : mih ? mih->knn(qc, size_t(k)) : hamming_knn(db.codes(), qc, size_t(k)))
            add(hit.index, hit.distance, -1.0f);
    }
    r.code = code_hex(q.codes.code(0), q.codes.words(), q.codes.bits());
    return r;
}

// --html: the page and its pictures (database pictures from --db-data or from the item names
// when they are image files).
void write_query_page(const Args& a, const Dataset* dbds, const PipelineOptions& po, const IndexFile& db,
                      const QueryResults& r, const Image& qimg) {
    const std::string html = a.get("html", "");
    HtmlPageWriter w(html, "HTML page");
    w.commit(query_html_page(r, qimg, db_pictures(dbds, db, po.max_pixels), w));
    if (!a.has("json")) std::printf("page written to %s\n", html.c_str());
}

}  // namespace

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc query --net weights/small_dlbhc_train_val.prototxt --weights "
        "demo/small_dlbhc.weights --index demo/fashion_train.idx --item "
        "/usr/share/datasets/fashion-mnist/t10k:0 --db-data /usr/share/datasets/fashion-mnist/train "
        "--html demo/query.html\n"
    "  dlbhc query --net weights/small_dlbhc_train_val.prototxt --weights "
        "demo/small_dlbhc.weights --index demo/fashion_train.idx --image shoe.png --k 5 "
        "--coarse-only\n";

int cmd_query(const std::vector<std::string>& argv) {
    Args a(argv, {"mean", "net", "weights", "index", "image", "item", "k", "threshold", "html", "db-data", "bits", "classes", "root", "max-pixels"},
           {"coarse-only", "json", "mih", "no-resize", "help"});
    if (a.has("help")) {
        std::fputs(kHelp, stdout);
        std::fputs(kMaxPixelsHelp, stdout);
        std::fputs(kExamples, stdout);
        return 0;
    }
    a.expect_no_positional();
    a.require({"net", "weights", "index"});
    if (a.has("image") == a.has("item")) throw std::invalid_argument("give exactly one of --image FILE and --item SPEC:I");
    const int k = a.get_int_in("k", 10, 1, INT_MAX), T = a.get_int_in("threshold", 8, 0, INT_MAX);
    if (a.has("html")) check_output_path(a.get("html", ""), "--html");
    std::vector<NamedPath> inputs = option_paths(a, {"net", "weights", "index", "image", "db-data", "mean"});
    inputs.push_back({"--item", a.get("item", "").substr(0, a.get("item", "").rfind(':'))});
    refuse_overwriting_inputs(option_paths(a, {"html"}), inputs);
    if (a.has("html")) refuse_inputs_inside_folder({"--html's picture folder", page_files_path(a.get("html", ""))}, inputs);
    IndexFile db = IndexFile::open(a.get("index", ""));
    const bool fine = !a.has("coarse-only");
    if (fine && !db.has_features())
        throw std::invalid_argument("index '" + db.path() + "' has no features: use --coarse-only");

    PipelineOptions po = pipeline_options(a, 1);
    po.batch = 1;  // one query
    const SourceOptions so = source_options(po);
    std::unique_ptr<Dataset> dbds;  // pictures of the results for --html
    if (a.has("html") && a.has("db-data")) dbds = open_dataset(a.get("db-data", ""), so);
    Image qimg;
    std::string qname;
    int qlabel = -1;
    std::unique_ptr<Dataset> qds;
    if (a.has("image")) {
        qname = a.get("image", "");
        load_image_as_stored(qname, qimg, po.max_pixels);
    } else {
        const std::string spec = a.get("item", "");
        const size_t colon = spec.rfind(':');
        if (colon == std::string::npos || colon + 1 == spec.size())
            throw std::invalid_argument("--item expects SPEC:INDEX, e.g. /usr/share/datasets/fashion-mnist/t10k:17, got '" + spec + "'");
        char* end = nullptr;
        const long long i = std::strtoll(spec.c_str() + colon + 1, &end, 10);
        if (*end || i < 0) throw std::invalid_argument("--item: '" + spec.substr(colon + 1) + "' is not an item number");
        qds = open_dataset(spec.substr(0, colon), so);
        if (size_t(i) >= qds->size())
            throw std::invalid_argument("--item: " + std::to_string(i) + " is beyond the " + std::to_string(qds->size()) +
                                        " items of " + spec.substr(0, colon));
        qds->item(size_t(i), qimg);
        qname = qds->name(size_t(i));
        qlabel = qds->label(size_t(i));
    }
    // The query becomes what the net takes (its channels and size, from the net and its weights).
    EncodeSetup es = make_image_encode_setup(po, a.get("weights", ""), qimg, qname, a.has("no-resize"));
    check_net_fits_index(es, db, fine);
    EncodedSet q = encode_image(es, qimg, qname);

    std::unique_ptr<MultiIndex> mih;
    if (a.has("mih")) mih = std::make_unique<MultiIndex>(db.codes());
    QueryResults r = search_index(db, q, fine, k, T, mih.get());
    r.name = qname, r.label = qlabel;
    if (a.has("json")) print_query_json(r);
    else print_query_table(r);
    if (a.has("html")) write_query_page(a, dbds.get(), po, db, r, qimg);
    return 0;
}

}  // namespace dlbhc
