// apps/cmd_query.cpp -- `dlbhc query`: the top k of an index for one image.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/pipeline.h"
#include "apps/report.h"
#include "data/image_io.h"
#include "search/hamming_search.h"
#include "search/hierarchical.h"
#include "search/index_file.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc query --net NET.prototxt --weights W.weights --index DB.idx (--image FILE | --item SPEC:I) [options]\n"
    "Encodes one image and prints the k most similar images of the index: coarse search by Hamming\n"
    "distance of the codes, then (unless --coarse-only) the candidates with Hamming distance\n"
    "< --threshold (widened to at least k) re-ranked by Euclidean distance of the features.\n"
    "  --image FILE         a JPEG or PNG query\n"
    "  --item SPEC:I        item I (0-based) of a dataset, e.g. /usr/share/datasets/fashion-mnist/t10k:17\n"
    "  --k K                results (default 10)\n"
    "  --threshold T        fine stage pool: Hamming distance < T (default 8)\n"
    "  --coarse-only        Hamming ranking only\n"
    "  --json               print the results as JSON instead of a table\n"
    "  --html FILE          write a page with the query and its results as thumbnails (next to it)\n"
    "  --db-data SPEC       the dataset the index was built from (pictures, when names are not files)\n"
    "  --bits H, --classes K, --mean FILE, --root DIR   as for `dlbhc index`\n";

int cmd_query(const std::vector<std::string>& argv) {
    Args a(argv, {"mean", "net", "weights", "index", "image", "item", "k", "threshold", "html", "db-data", "bits", "classes", "root", "max-pixels"},
           {"coarse-only", "json", "help"});
    if (a.has("help")) {
        std::fputs(kHelp, stdout);
        std::fputs(kMaxPixelsHelp, stdout);
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
        load_image(qname, qimg, true, po.max_pixels);
        if (trained_input_channels(po.net_path, a.get("weights", "")) == 1) qimg = to_grey(qimg);
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
    // The net is sized by the dataset the query comes from; a lone image is sized by itself.
    class OneImage : public Dataset {
    public:
        explicit OneImage(const Image& im) : im_(im) {}
        size_t size() const override { return 1; }
        int num_classes() const override { return 1; }
        int channels() const override { return im_.c; }
        int height() const override { return im_.h; }
        int width() const override { return im_.w; }
        void item(size_t, Image& out) const override { out = im_; }
        int label(size_t) const override { return 0; }
        std::string name(size_t) const override { return "query"; }

    private:
        const Image& im_;
    } one(qimg);
    EncodeSetup es = make_encode_setup(po, a.get("weights", ""), qds ? *qds : static_cast<const Dataset&>(one), true);
    check_net_fits_index(es, db, fine);
    EncodedSet q = encode_image(es, qimg, qname);

    struct Row {
        uint32_t index, hamming;
        float euclid;
    };
    std::vector<Row> rows;
    size_t pool = 0;
    if (fine) {
        HierarchicalOptions ho;
        ho.threshold = T;
        ho.min_pool = size_t(k);
        HierarchicalResult r = hierarchical_search(db.codes(), db.features(), q.codes.code(0), q.features.data(), size_t(k), ho);
        pool = r.pool_size;
        for (const auto& h : r.hits) rows.push_back({h.index, h.hamming, h.euclidean});
    } else {
        for (const auto& h : hamming_knn(db.codes(), q.codes.code(0), size_t(k))) rows.push_back({h.index, h.distance, -1.0f});
    }
    std::string code_hex;
    for (int w = q.codes.words() - 1; w >= 0; --w) {
        char b[20];
        std::snprintf(b, sizeof b, "%016llx", (unsigned long long)q.codes.code(0)[w]);
        code_hex += b;
    }
    code_hex = code_hex.substr(code_hex.size() - size_t((q.codes.bits() + 3) / 4));
    if (a.has("json")) {
        std::printf("{\"query\": \"%s\", \"label\": %d, \"code\": \"%s\", \"search\": \"%s\", \"pool\": %zu, \"results\": [\n",
                    json_escape(qname).c_str(), qlabel, code_hex.c_str(), fine ? "coarse+fine" : "coarse", pool);
        for (size_t i = 0; i < rows.size(); ++i)
            std::printf("  {\"rank\": %zu, \"index\": %u, \"hamming\": %u, \"euclidean\": %s, \"label\": %d, \"name\": \"%s\"}%s\n",
                        i + 1, rows[i].index, rows[i].hamming, rows[i].euclid < 0 ? "null" : std::to_string(rows[i].euclid).c_str(),
                        db.label(rows[i].index), json_escape(std::string(db.name(rows[i].index))).c_str(),
                        i + 1 < rows.size() ? "," : "");
        std::printf("]}\n");
    } else {
        std::printf("query %s (label %d), code %s (hex, bit 0 rightmost); %s", qname.c_str(), qlabel, code_hex.c_str(),
                    fine ? "coarse + fine" : "coarse only");
        if (fine) std::printf(", pool of %zu candidates", pool);
        std::printf("\n%5s %8s %10s %6s  %s\n", "rank", "hamming", "euclidean", "label", "name");
        for (size_t i = 0; i < rows.size(); ++i) {
            char e[32] = "-";
            if (rows[i].euclid >= 0) std::snprintf(e, sizeof e, "%.4f", rows[i].euclid);
            std::printf("%5zu %8u %10s %6d  %s\n", i + 1, rows[i].hamming, e, db.label(rows[i].index),
                        std::string(db.name(rows[i].index)).c_str());
        }
    }
    if (a.has("html")) {
        const std::string html = a.get("html", "");
        const PageFolder pf = page_folder(html);
        const std::string& dir = pf.dir;
        const std::string& files = pf.files;
        auto picture = [&](const std::string& name, const Image& im) {
            refuse_overwriting_inputs({{"--html picture", dir + "/" + name}}, inputs);
            save_png(dir + "/" + name, im);
        };
        picture(files + "/query.png", qimg);
        std::string page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dlbhc query</title><style>"
                           "body{font-family:sans-serif;margin:2em} figure{display:inline-block;margin:6px;text-align:center;"
                           "font-size:12px} img{width:96px;height:96px;image-rendering:pixelated;border:3px solid #fff} "
                           "img.q{border-color:#1f77b4} img.ok{border-color:#2ca02c} img.no{border-color:#d62728}</style></head><body>\n";
        page += "<h1>Query</h1><figure><img class=\"q\" src=\"" + html_escape(files + "/query.png") + "\"><figcaption>" +
                html_escape(qname) + "<br>label " + std::to_string(qlabel) + "</figcaption></figure>\n<h2>Top " +
                std::to_string(rows.size()) + " (" + (fine ? "coarse + fine" : "coarse") + ")</h2>\n";
        Image img;
        for (size_t i = 0; i < rows.size(); ++i) {
            const uint32_t idx = rows[i].index;
            bool have = false;
            try {
                if (dbds) dbds->item(idx, img);
                else load_image(std::string(db.name(idx)), img, true, po.max_pixels);
                have = true;
            } catch (const std::exception&) {
            }
            const std::string cls = qlabel < 0 ? "" : (db.label(idx) == qlabel ? "ok" : "no");
            char e[48] = "";
            if (rows[i].euclid >= 0) std::snprintf(e, sizeof e, ", E %.3f", rows[i].euclid);
            page += "<figure>";
            if (have) {
                const std::string p = files + "/r" + std::to_string(i + 1) + ".png";
                picture(p, img);
                page += "<img class=\"" + cls + "\" src=\"" + html_escape(p) + "\">";
            }
            page += "<figcaption>#" + std::to_string(i + 1) + " " + html_escape(std::string(db.name(idx))) + "<br>label " +
                    std::to_string(db.label(idx)) + ", H " + std::to_string(rows[i].hamming) + e + "</figcaption></figure>\n";
        }
        page += "</body></html>\n";
        write_text_atomic(html, page, "HTML page");
        if (!a.has("json")) std::printf("page written to %s\n", html.c_str());
    }
    return 0;
}

}  // namespace dlbhc
