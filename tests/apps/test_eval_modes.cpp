// tests/apps/test_eval_modes.cpp -- `dlbhc eval`'s modes (--modes bcs,hds,es), the baseline net
// (--baseline-net, --baseline-weights, --baseline-index), several labelled query sets, and
// training-set queries, which leave their own database item out of their rankings. A tiny net with
// weights drawn from its fillers (no training) and 8 random images, each of its own class except
// item 7, a copy of item 0 with its label.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "tests/support/child_process.h"
#include "tests/support/commands.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using namespace dlbhc::test;

namespace {

// The same trunk as the tiny net, as a plain classifier: no latent layer (the baseline's kind).
const char* kClassifier = R"(name: "TinyClassifier"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
  transform_param { scale: 0.00390625 } data_param { source: "a/train" batch_size: 8 } }
layer { name: "pool1" type: "Pooling" bottom: "data" top: "pool1" pooling_param { pool: AVE kernel_size: 4 stride: 4 } }
layer { name: "fc7" type: "InnerProduct" bottom: "pool1" top: "fc7" inner_product_param { num_output: 24 weight_filler { type: "xavier" } } }
layer { name: "relu7" type: "ReLU" bottom: "fc7" top: "fc7" }
layer { name: "fc8" type: "InnerProduct" bottom: "fc7" top: "fc8" inner_product_param { num_output: 8 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc8" bottom: "label" top: "loss" }
)";

struct Fixture {
    TempDir dir;
    std::string net, weights, other_weights, index, other_index, data, copy, classifier, classifier_weights;
    Fixture() {
        std::mt19937 rng(11);
        std::vector<uint8_t> pixels(8 * 784), labels = {0, 1, 2, 3, 4, 5, 6, 0};
        for (auto& p : pixels) p = uint8_t(rng() & 255);
        std::copy(pixels.begin(), pixels.begin() + 784, pixels.begin() + 7 * 784);  // item 7 = item 0
        for (const char* d : {"a", "b"}) {  // b: the same images in another folder
            write_bytes(dir.mkdir(d) + "/train-images-idx3-ubyte", make_idx({8, 28, 28}, pixels));
            write_bytes(dir.file(std::string(d) + "/train-labels-idx1-ubyte"), make_idx({8}, labels));
        }
        data = dir.file("a/train"), copy = dir.file("b/train");
        net = dir.file("net.prototxt");
        write_text(net, tiny_net_prototxt({"EvalNet", "a/train", 8, 8, 32, 16, 8}));
        weights = dir.file("w.weights"), other_weights = dir.file("w2.weights");
        write_filler_weights(net, weights, 1);
        write_filler_weights(net, other_weights, 2);
        classifier = dir.file("classifier.prototxt");
        write_text(classifier, kClassifier);
        classifier_weights = dir.file("c.weights");
        write_filler_weights(classifier, classifier_weights, 3);
        index = dir.file("db.idx"), other_index = dir.file("db2.idx");
        quietly([&] {
            cmd_index({"--net", net, "--weights", weights, "--data", data, "--out", index});
            cmd_index({"--net", net, "--weights", other_weights, "--data", data, "--out", other_index});
        });
    }
    std::vector<std::string> eval(const std::vector<std::string>& more) const {
        return plus({"--net", net, "--weights", weights, "--index", index, "--k", "3"}, more);
    }
};

const Fixture& fixture() {
    static Fixture f;
    return f;
}

// P@1 of a mode ("coarse", "coarse_fine", "exhaustive", "baseline") in the JSON of one query set,
// from byte `from` on; -1 when it is not there.
double p_at_1(const std::string& json, const std::string& mode, size_t from = 0) {
    const size_t m = json.find("\"" + mode + "\": {", from);
    if (m == std::string::npos) return -1;
    const size_t p = json.find("\"precision_at_k\": {\"1\": ", m);
    return p == std::string::npos ? -1 : std::atof(json.c_str() + p + 24);
}

}  // namespace

TEST_CASE("eval --modes: bad lists and contradicting options are refused, naming the option, before any work") {
    const Fixture& f = fixture();
    TempDir out;
    auto error = [&](const std::vector<std::string>& more) {
        return capture(out, [&] { cmd_eval(f.eval(plus({"--queries", f.data}, more))); }).error;
    };
    CHECK(error({"--modes", "bcs,xyz"}) == "--modes 'bcs,xyz': unknown mode 'xyz' (expected a comma-separated list of bcs, hds, es)");
    CHECK(error({"--modes", ""}) == "--modes '': an empty mode (expected a comma-separated list of bcs, hds, es)");
    CHECK(has(error({"--modes", "bcs,,es"}), "an empty mode"));
    CHECK(error({"--modes", "es,es"}) == "--modes 'es,es': 'es' is given twice");
    CHECK(has(error({"--modes", "BCS"}), "unknown mode 'BCS'"));
    CHECK(has(error({"--modes", "hds", "--no-fine"}), "--no-fine (no coarse + fine stage) contradicts --modes 'hds'"));
    CHECK(has(error({"--max-queries", "0"}), "option --max-queries expects an integer >= 1 (N, or LABEL=N for one query set), got '0'"));
    CHECK(has(error({"--max-queries", "test=2"}), "no --queries is labelled 'test'"));
    CHECK(has(error({"--queries", "x="}), "--queries 'x=': no dataset after the label"));
    CHECK(has(error({"--baseline-net", f.classifier}), "--baseline-net and --baseline-weights go together"));
    CHECK(has(error({"--baseline-index", f.index}), "--baseline-index needs --baseline-net"));
    CHECK(list_folder(out.path) == std::vector<std::string>{"stderr.txt", "stdout.txt"});
    // Two sets with one label.
    const std::string two = capture(out, [&] {
        cmd_eval(plus({"--net", f.net, "--weights", f.weights, "--index", f.index}, {"--queries", "s=" + f.data, "--queries",
                                                                                     "s=" + f.copy}));
    }).error;
    CHECK(has(two, "two query sets are labelled 's'"));
}

TEST_CASE("eval: queries from the database itself leave their own item out (rank 1 is never the query, unless duplicated)") {
    const Fixture& f = fixture();
    TempDir out;
    const std::string json = out.file("m.json");
    // Every item is of its own class but items 0 and 7, copies of one image with one label: left
    // out of its own ranking, a query finds a relevant item at rank 1 only through its copy.
    const Captured c = capture(out, [&] {
        cmd_eval(f.eval({"--queries", "train=" + f.data, "--modes", "bcs,hds,es", "--json", json}));
    });
    REQUIRE_MESSAGE(c.error.empty(), c.error);
    CHECK(has(c.out, "each query's own item is left out of its ranking (8 queries)"));
    const std::string j = read_all(json);
    CHECK(has(j, "\"own_items_left_out\": 8"));
    CHECK(p_at_1(j, "exhaustive") == doctest::Approx(2.0 / 8));  // queries 0 and 7 find each other
    CHECK(p_at_1(j, "coarse_fine") == doctest::Approx(2.0 / 8));
    CHECK(p_at_1(j, "coarse") <= 2.0 / 8 + 1e-9);
    // The same images from another folder are other files: not the database's items, nothing left
    // out, and every query finds its own copy at distance 0 first.
    const Captured o = capture(out, [&] { cmd_eval(f.eval({"--queries", f.copy, "--modes", "es", "--json", json})); });
    REQUIRE_MESSAGE(o.error.empty(), o.error);
    CHECK(!has(o.out, "own item"));
    CHECK(p_at_1(read_all(json), "exhaustive") == 1.0);
    // A subset (--max-queries) keeps the item numbers.
    const Captured s = capture(out, [&] {
        cmd_eval(f.eval({"--queries", "train=" + f.data, "--max-queries", "train=1", "--modes", "es", "--json", json}));
    });
    REQUIRE_MESSAGE(s.error.empty(), s.error);
    CHECK(p_at_1(read_all(json), "exhaustive") == 1.0);  // query 0's rank 1: item 7, its copy
}

TEST_CASE("eval --baseline-index: built with other weights, or for a net without latent layer, it is refused") {
    const Fixture& f = fixture();
    TempDir out;
    auto error = [&](const std::vector<std::string>& more) {
        return capture(out, [&] { cmd_eval(f.eval(plus({"--queries", f.data, "--modes", "es"}, more))); }).error;
    };
    const std::string e = error({"--baseline-net", f.net, "--baseline-weights", f.weights, "--baseline-index", f.other_index});
    CHECK(has(e, "index '" + f.other_index + "' was built with weights"));
    CHECK(has(error({"--baseline-net", f.classifier, "--baseline-weights", f.classifier_weights, "--baseline-index", f.index}),
              "has no latent layer, so no index was built with it"));
    // Another index of other items.
    TempDir other;
    const std::string small = write_random_mnist(other, "s", 5, 4, 8), idx = other.file("s.idx");
    quietly([&] { cmd_index({"--net", f.net, "--weights", f.weights, "--data", small, "--out", idx}); });
    CHECK(has(error({"--baseline-net", f.net, "--baseline-weights", f.weights, "--baseline-index", idx}),
              "does not hold the items of --index"));
}

TEST_CASE("eval --baseline-net: ES on another net's features; the same net as the baseline gives ES's numbers") {
    const Fixture& f = fixture();
    TempDir out;
    const std::string json = out.file("m.json");
    // The index's own net and weights as the baseline (from the index): exactly ES.
    Captured c = capture(out, [&] {
        cmd_eval(f.eval({"--queries", f.copy, "--modes", "es", "--baseline-net", f.net, "--baseline-weights", f.weights,
                         "--baseline-index", f.index, "--json", json}));
    });
    REQUIRE_MESSAGE(c.error.empty(), c.error);
    std::string j = read_all(json);
    CHECK(p_at_1(j, "baseline") == p_at_1(j, "exhaustive"));
    CHECK(has(j, "\"database_features\": \"from --baseline-index " + f.index + "\""));
    // A plain classifier (no latent layer), the database encoded from the source the index records.
    c = capture(out, [&] {
        cmd_eval(f.eval({"--queries", "train=" + f.data, "--baseline-net", f.classifier, "--baseline-weights",
                         f.classifier_weights, "--json", json}));
    });
    REQUIRE_MESSAGE(c.error.empty(), c.error);
    j = read_all(json);
    CHECK(has(c.out, "baseline = ES on the features of TinyClassifier"));
    CHECK(has(j, "\"feature_dim\": 24"));
    CHECK(p_at_1(j, "baseline") == doctest::Approx(2.0 / 8));  // its own item left out too
}

TEST_CASE("eval: two labelled query sets, every mode: a table each, two plot panels, and a report page that renders") {
    const Fixture& f = fixture();
    TempDir out;
    const std::string svg = out.file("p.svg"), html = out.file("r.html"), json = out.file("m.json");
    const Captured c = capture(out, [&] {
        cmd_eval(f.eval({"--queries", "train=" + f.data, "--queries", "copy=" + f.copy, "--modes", "bcs,hds,es",
                         "--baseline-net", f.classifier, "--baseline-weights", f.classifier_weights, "--svg", svg, "--html",
                         html, "--json", json, "--examples", "1"}));
    });
    REQUIRE_MESSAGE(c.error.empty(), c.error);
    CHECK(has(c.out, "== query set 'train'"));
    CHECK(has(c.out, "== query set 'copy'"));
    CHECK(has(c.out, "HDS over ES: "));
    CHECK(has(read_all(json), "\"query_sets\": ["));
    const std::string plot = read_all(svg);
    CHECK(has(plot, "train queries: precision@k"));
    CHECK(has(plot, "copy queries: precision@k"));
    CHECK(has(plot, "baseline: ES on TinyClassifier"));
    const std::string page = read_all(html);
    CHECK(has(page, "<h2>Queries 'train'</h2>"));
    CHECK(has(page, "<h2>Queries 'copy'</h2>"));
    // Rendered by a real browser when one is installed: it loads the page and its plot.
    const char* browsers[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
    for (const char* b : browsers) {
        if (!std::filesystem::exists(b)) continue;
        const std::string log = out.file("browser.log"), shot = out.file("shot.png");
        const ChildExit e = run_with_timeout(b, {"--headless", "--no-sandbox", "--disable-gpu", "--screenshot=" + shot,
                                                 "--window-size=1300,900", "file://" + html}, log, 60);
        CHECK_MESSAGE((e.exited && e.code == 0), file_tail(log));
        CHECK(std::filesystem::exists(shot));
        CHECK(std::filesystem::file_size(shot) > 1000);
        break;
    }
}
