// tests/apps/test_pipeline.cpp -- the product end to end through its commands: train a small DLBHC
// net on a 2,000-image Fashion-MNIST subset, index it, query it, evaluate 500 test images with the
// paper's protocol; plus the commands' handling of bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "apps/commands.h"
#include "tests/support/test_files.h"
#include "data/idx.h"
#include "data/image_io.h"
#include "search/index_file.h"

using namespace dlbhc;
using dlbhc::test::TempDir;
using dlbhc::test::read_all;
using dlbhc::test::write_text;
namespace fs = std::filesystem;

namespace {


const char* kFashion = "/usr/share/datasets/fashion-mnist";

void put_be32(std::ofstream& f, uint32_t v) {
    const unsigned char b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    f.write(reinterpret_cast<const char*>(b), 4);
}

// Writes the first n items of a split as plain idx files DIR/<split>-{images-idx3,labels-idx1}-ubyte.
void write_subset(const std::string& split, size_t n, const std::string& dir) {
    IdxArray images = read_idx_u8(std::string(kFashion) + "/" + split + "-images-idx3-ubyte.gz");
    IdxArray labels = read_idx_u8(std::string(kFashion) + "/" + split + "-labels-idx1-ubyte.gz");
    REQUIRE(images.dims.size() == 3);
    std::ofstream fi(dir + "/" + split + "-images-idx3-ubyte", std::ios::binary);
    put_be32(fi, 0x803);
    put_be32(fi, uint32_t(n));
    put_be32(fi, 28);
    put_be32(fi, 28);
    fi.write(reinterpret_cast<const char*>(images.data()), std::streamsize(n * 784));
    std::ofstream fl(dir + "/" + split + "-labels-idx1-ubyte", std::ios::binary);
    put_be32(fl, 0x801);
    put_be32(fl, uint32_t(n));
    fl.write(reinterpret_cast<const char*>(labels.data()), std::streamsize(n));
}

// A narrower copy of weights/small_dlbhc_train_val.prototxt (same layer kinds and head) and a
// short solver, so the whole run takes seconds.
const char* kNet = R"(name: "TinyDLBHC"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TRAIN }
  transform_param { scale: 0.00390625 mean_value: 73 mirror: true } data_param { source: "train" batch_size: 32 } }
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
  transform_param { scale: 0.00390625 mean_value: 73 } data_param { source: "t10k" batch_size: 100 } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 8 kernel_size: 5 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
  convolution_param { num_output: 16 kernel_size: 5 weight_filler { type: "xavier" } } }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer { name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc7" type: "InnerProduct" bottom: "pool2" top: "fc7" inner_product_param { num_output: 64 weight_filler { type: "xavier" } } }
layer { name: "relu7" type: "ReLU" bottom: "fc7" top: "fc7" }
layer { name: "drop7" type: "Dropout" bottom: "fc7" top: "fc7" dropout_param { dropout_ratio: 0.3 } }
layer { name: "fc8_kevin" type: "InnerProduct" bottom: "fc7" top: "fc8_kevin"
  inner_product_param { num_output: 48 weight_filler { type: "gaussian" std: 0.05 } bias_filler { type: "constant" value: 0 } } }
layer { name: "fc8_kevin_encode" type: "Sigmoid" bottom: "fc8_kevin" top: "fc8_kevin_encode" }
layer { name: "fc8_pascal" type: "InnerProduct" bottom: "fc8_kevin_encode" top: "fc8_pascal"
  param { lr_mult: 10 } param { lr_mult: 20 }
  inner_product_param { num_output: 10 weight_filler { type: "gaussian" std: 0.01 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc8_pascal" bottom: "label" top: "loss" }
)";

const char* kSolver = R"(net: "net.prototxt"
base_lr: 0.01
lr_policy: "step"
gamma: 0.1
stepsize: 300
max_iter: 400
momentum: 0.9
weight_decay: 0.0005
display: 100
test_iter: 5
test_interval: 200
snapshot: 200
snapshot_prefix: "snap/tiny"
random_seed: 3
)";

double json_number(const std::string& json, const std::string& key, size_t from = 0) {
    size_t p = json.find("\"" + key + "\":", from);
    REQUIRE(p != std::string::npos);
    return std::stod(json.substr(p + key.size() + 3));
}

template <class F>
void check_error(F&& f, const std::vector<std::string>& parts) {
    try {
        f();
        FAIL("no error");
    } catch (const std::exception& e) {
        for (const auto& p : parts) CHECK_MESSAGE(std::string(e.what()).find(p) != std::string::npos, e.what());
    }
}

}  // namespace

TEST_CASE("pipeline: train, index, query and eval on a 2,000-image Fashion-MNIST subset") {
    struct stat st;
    if (::stat(kFashion, &st) != 0) {
        MESSAGE("skipped: " << kFashion << " is missing (Debian package dataset-fashion-mnist; `make deps` installs it)");
        return;
    }
    TempDir dir;
    write_subset("train", 2000, dir.path);
    write_subset("t10k", 500, dir.path);
    write_text(dir.file("net.prototxt"), kNet);
    write_text(dir.file("solver.prototxt"), kSolver);
    const std::string train = dir.file("train"), test = dir.file("t10k");

    REQUIRE(cmd_train({"--solver", dir.file("solver.prototxt"), "--train-data", train, "--test-data", test, "--out",
                       dir.file("w.weights")}) == 0);
    CHECK(fs::exists(dir.file("snap/tiny_iter_200.weights")));
    CHECK(fs::exists(dir.file("snap/tiny_iter_400.weights")));
    REQUIRE(fs::exists(dir.file("w.weights")));

    REQUIRE(cmd_index({"--net", dir.file("net.prototxt"), "--weights", dir.file("w.weights"), "--data", train, "--out",
                       dir.file("db.idx")}) == 0);
    IndexFile db = IndexFile::open(dir.file("db.idx"));
    CHECK(db.size() == 2000);
    CHECK(db.bits() == 48);
    CHECK(db.feature_dim() == 64);
    CHECK(db.name(7) == "train[7]");

    REQUIRE(cmd_eval({"--net", dir.file("net.prototxt"), "--weights", dir.file("w.weights"), "--index", dir.file("db.idx"),
                      "--queries", test, "--k", "100", "--json", dir.file("m.json"), "--svg", dir.file("p.svg"), "--html",
                      dir.file("report/r.html"), "--db-data", train, "--examples", "2"}) == 0);
    const std::string json = read_all(dir.file("m.json"));
    const double map_coarse = json_number(json, "map_at_k");
    const double map_fine = json_number(json, "map_at_k", json.find("coarse_fine"));
    MESSAGE("2,000-image subset, 400 iterations: mAP@100 coarse " << map_coarse << ", coarse+fine " << map_fine);
    // Chance is about 0.1 (ten balanced classes); measured: 0.60 coarse, 0.62 coarse + fine.
    CHECK(map_coarse > 0.5);
    CHECK(map_fine > 0.5);
    CHECK(json_number(json, "queries") == 500);
    CHECK(read_all(dir.file("p.svg")).find("<svg") == 0);
    const std::string html = read_all(dir.file("report/r.html"));
    CHECK(html.find("coarse + fine") != std::string::npos);
    CHECK(fs::exists(dir.file("report/r_files/q0.png")));

    // Resume from the iteration-200 snapshot: ends with the same weights as the straight run.
    REQUIRE(cmd_train({"--solver", dir.file("solver.prototxt"), "--train-data", train, "--test-data", "none",
                       "--resume", dir.file("snap/tiny_iter_200.weights"), "--snapshot-prefix", dir.file("again/tiny"),
                       "--out", dir.file("new/folder/w2.weights")}) == 0);  // --out's folder is made
    CHECK(read_all(dir.file("new/folder/w2.weights")) == read_all(dir.file("w.weights")));

    // encode: the same codes as the index holds.
    REQUIRE(cmd_encode({"--net", dir.file("net.prototxt"), "--weights", dir.file("w.weights"), "--data", test, "--out",
                        dir.file("codes.txt"), "--latent-npy", dir.file("lat.npy")}) == 0);
    const std::string codes = read_all(dir.file("codes.txt"));
    CHECK(std::count(codes.begin(), codes.end(), '\n') == 500);
    CHECK(codes.rfind("t10k[0]\t", 0) == 0);
    CHECK(fs::file_size(dir.file("lat.npy")) == 128 + 500 * 48 * 4);

    // A query by dataset item finds itself first (distance 0 in both stages).
    REQUIRE(cmd_query({"--net", dir.file("net.prototxt"), "--weights", dir.file("w.weights"), "--index", dir.file("db.idx"),
                       "--item", train + ":5", "--k", "3", "--html", dir.file("q/q.html"), "--db-data", train}) == 0);
    CHECK(fs::exists(dir.file("q/q_files/query.png")));

    // A colour image file against the grey net: converted to grey, so train[5] saved as a colour
    // PNG (three equal channels) finds itself first.
    {
        auto ds = load_mnist_dir(dir.path, "train");
        Image grey, colour(3, 28, 28);
        ds->item(5, grey);
        for (int c = 0; c < 3; ++c) std::copy(grey.pixels.begin(), grey.pixels.end(), colour.pixels.begin() + c * 784);
        save_png(dir.file("five.png"), colour);
        REQUIRE(cmd_query({"--net", dir.file("net.prototxt"), "--weights", dir.file("w.weights"), "--index",
                           dir.file("db.idx"), "--image", dir.file("five.png"), "--k", "3", "--html", dir.file("c/c.html"),
                           "--db-data", train}) == 0);
        CHECK(read_all(dir.file("c/c.html")).find("#1 train[5]") != std::string::npos);
        // The pixel limit is configurable: 784 pixels pass a limit of 784 and not one of 783.
        CHECK(cmd_query({"--net", dir.file("net.prototxt"), "--weights", dir.file("w.weights"), "--index", dir.file("db.idx"),
                         "--image", dir.file("five.png"), "--k", "1", "--max-pixels", "784"}) == 0);
        check_error([&] { cmd_query({"--net", dir.file("net.prototxt"), "--weights", dir.file("w.weights"), "--index",
                                     dir.file("db.idx"), "--image", dir.file("five.png"), "--max-pixels", "783"}); },
                    {"five.png", "28 x 28 pixels is larger than the limit of 783 pixels"});
        check_error([&] { cmd_query({"--net", dir.file("net.prototxt"), "--weights", dir.file("w.weights"), "--index",
                                     dir.file("db.idx"), "--image", dir.file("five.png"), "--max-pixels", "0"}); },
                    {"--max-pixels: expected a positive whole number of pixels, found '0'"});
    }

    // Bad input: each names the file and leaves no output behind.
    check_error([&] { cmd_index({"--net", dir.file("net.prototxt"), "--weights", dir.file("m.json"), "--data", train, "--out",
                                 dir.file("bad.idx")}); },
                {"m.json"});
    CHECK_FALSE(fs::exists(dir.file("bad.idx")));
    check_error([&] { cmd_eval({"--net", dir.file("net.prototxt"), "--weights", dir.file("w.weights"), "--index",
                                dir.file("w.weights"), "--queries", test}); },
                {"w.weights"});
    check_error([&] { cmd_train({"--solver", dir.file("net.prototxt")}); }, {"net.prototxt"});
    check_error([&] { cmd_train({"--solver", dir.file("solver.prototxt"), "--train-data", dir.file("nothing/train")}); },
                {"nothing"});
}
