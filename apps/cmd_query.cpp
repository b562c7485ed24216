// apps/cmd_query.cpp -- `dlbhc query`: the top k of an index for one image.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/encode.h"
#include "apps/net_setup.h"
#include "apps/options.h"
#include "apps/provenance.h"
#include "apps/report.h"
#include "data/image_io.h"
#include "data/shard.h"
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
    "  --item SPEC:I        item I (0-based, decimal digits only) of a dataset, e.g.\n"
    "                       /usr/share/datasets/fashion-mnist/t10k:17\n"
    "  --no-resize          refuse a query of another size or channel count than the net takes (by\n"
    "                       default it is converted, as the data layer would, and a line says so)\n"
    "  --k K                results (default 10)\n"
    "  --threshold T        fine stage pool: Hamming distance < T (default 8)\n"
    "  --coarse-only        Hamming ranking only\n"
    "  --mih                coarse stage by multi-index hashing (exact: the same results; builds the\n"
    "                       tables first, so it pays off for large indexes and small distances)\n"
    "  --json               print the results as JSON (names JSON-escaped) instead of a table\n"
    "  --html FILE          write a page with the query and its results as thumbnails (in the\n"
    "                       folder <stem>_files beside it, replaced as a whole, as for `dlbhc eval`)\n"
    "  --db-data SPEC       the dataset the index was built from (pictures, when names are not files);\n"
    "                       default: the data source the index records, when it opens here, has the\n"
    "                       index's item count and the same names and labels; when no picture can be\n"
    "                       shown the page lists the results and says why (so does stderr)\n"
    "  --bits H, --classes K, --mean FILE, --root DIR   as for `dlbhc index`\n"
    "The net, weights and preprocessing must be those the index was built with (its provenance,\n"
    "`dlbhc info DB.idx`): another snapshot's weights would give meaningless neighbours, so they are\n"
    "refused before the query is encoded, naming both. An index written before dlbhc recorded\n"
    "provenance is searched with a warning.\n";

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

// --html: the page and its pictures (database pictures from --db-data, the recorded data source
// or the item names when they are image files). `no_db_data`: why the recorded data source could
// not be used ("" when it was, or --db-data was given).
void write_query_page(const Args& a, const Dataset* dbds, const std::string& no_db_data, const PipelineOptions& po,
                      const IndexFile& db, const QueryResults& r, const Image& qimg) {
    const std::string html = a.get("html", "");
    const std::string why = a.has("db-data") ? "--db-data '" + a.get("db-data", "") + "' gives no picture of these items"
                                             : "its item names are not image files, and " + no_db_data +
                                                   ": pass --db-data SPEC, the dataset the index was built from";
    HtmlPageWriter w(html, "HTML page");
    w.commit(query_html_page(r, qimg, db_pictures(dbds, db, po.max_pixels), w, why));
    const bool none = !r.hits.empty() && w.pictures() == 1;  // the query's own picture only
    if (none) std::fprintf(stderr, "dlbhc query: --html: no picture of the results can be shown: %s\n", why.c_str());
    if (a.has("json")) return;
    std::printf("page written to %s", html.c_str());
    if (dbds && !a.has("db-data")) std::printf(" (pictures from '%s', the data the index records)", db.provenance().sources[0].source.c_str());
    std::printf("\n");
}

// --item SPEC:I: the dataset and the item number's text, checked (decimal digits only: no sign,
// no spaces) before any work; its range is known once the dataset is open (item_number).
struct ItemOption {
    std::string spec, number;
};

const char* const kItemForm = "SPEC:I (item I, from 0, of a dataset), e.g. /usr/share/datasets/fashion-mnist/t10k:17";

ItemOption item_option(const std::string& text) {
    const size_t colon = text.rfind(':');
    ItemOption o;
    if (colon != std::string::npos) o.spec = text.substr(0, colon), o.number = text.substr(colon + 1);
    const bool digits = !o.number.empty() && o.number.find_first_not_of("0123456789") == std::string::npos;
    if (o.spec.empty() || !digits)
        throw std::invalid_argument("--item: expected " + std::string(kItemForm) + ", found '" + text + "'");
    return o;
}

// The item number within the dataset's items, or an error showing the text given and the range.
size_t item_number(const ItemOption& o, size_t items) {
    size_t i = 0;
    if (parse_size(o.number, i) && i < items) return i;
    throw std::invalid_argument("--item: expected an item number from 0 to " +
                                (items ? std::to_string(items - 1) : std::string("-1 (no items)")) + " (" + o.spec +
                                " has " + std::to_string(items) + " items), found '" + o.number + "'");
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
    if (print_help(a, {kHelp, kMaxPixelsHelp, kLineEscapeHelp, kExamples})) return 0;
    a.expect_no_positional();
    a.require({"net", "weights", "index"});
    if (a.has("image") == a.has("item")) throw std::invalid_argument("give exactly one of --image FILE and --item SPEC:I");
    const int k = a.get_int_in("k", 10, 1, INT_MAX), T = a.get_int_in("threshold", 8, 0, INT_MAX);
    if (a.has("html")) check_output_path(a.get("html", ""), "--html");
    const ItemOption item = a.has("item") ? item_option(a.get("item", "")) : ItemOption();
    PipelineOptions po = pipeline_options(a, 1);
    po.batch = 1;  // one query
    const SourceOptions so = source_options(po);
    // Every file the datasets resolve to, and the data layer's mean_file, is an input too.
    std::vector<NamedPath> inputs = option_paths(a, {"net", "weights", "index", "image", "db-data", "mean"});
    inputs.push_back({"--item", item.spec});
    add_dataset_inputs(inputs, "--item", item.spec, so);
    add_dataset_inputs(inputs, "--db-data", a.get("db-data", ""), so);
    add_net_data_inputs(inputs, po, false);
    refuse_overwriting_inputs(option_paths(a, {"html"}), inputs);
    if (a.has("html")) check_html_page(a.get("html", ""), {}, inputs);
    IndexFile db = IndexFile::open(a.get("index", ""));
    const bool fine = !a.has("coarse-only");
    if (fine && !db.has_features())
        throw std::invalid_argument("index '" + db.path() + "' has no features: use --coarse-only");

    std::unique_ptr<Dataset> dbds;  // pictures of the results for --html
    std::string no_db_data;         // why the recorded data source cannot give them
    if (a.has("html") && a.has("db-data")) dbds = open_dataset(a.get("db-data", ""), so);
    if (a.has("html") && !a.has("db-data")) dbds = recorded_db_data(db, so, no_db_data);
    Image qimg;
    std::string qname;
    int qlabel = -1;
    std::unique_ptr<Dataset> qds;
    if (a.has("image")) {
        qname = a.get("image", "");
        load_image_as_stored(qname, qimg, po.max_pixels);
    } else {
        qds = open_dataset(item.spec, so);
        const size_t i = item_number(item, qds->size());
        qds->item(i, qimg);
        qname = qds->name(i);
        qlabel = qds->label(i);
    }
    // The query becomes what the net takes (its channels and size, from the net and its weights).
    EncodeSetup es = make_image_encode_setup(po, a.get("weights", ""), qimg, qname, a.has("no-resize"));
    check_net_fits_index(es, db, fine);
    check_index_provenance(db, codes_provenance(es, po.latent_bits, a.get("weights", "")), po.net_path,
                           a.get("weights", ""));
    EncodedSet q = encode_image(es, qimg, qname);

    std::unique_ptr<MultiIndex> mih;
    if (a.has("mih")) mih = std::make_unique<MultiIndex>(db.codes());
    QueryResults r = search_index(db, q, fine, k, T, mih.get());
    r.name = qname, r.label = qlabel;
    if (a.has("json")) print_query_json(r);
    else print_query_table(r);
    if (a.has("html")) write_query_page(a, dbds.get(), no_db_data, po, db, r, qimg);
    return 0;
}

}  // namespace dlbhc
