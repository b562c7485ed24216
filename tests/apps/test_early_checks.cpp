// tests/apps/test_early_checks.cpp -- the commands check what they can before the long work (a bad
// option or output found only after hours of training or encoding), and refuse weights holding NaN
// or infinity (which would turn every output into NaN).
//
// Early checks: each case gives a bad option, output or --append target together with a dataset
// that does not exist. The error must be the one about the option: had the command read the
// data first, it would have failed on the dataset instead. Where the check needs the built net
// (an --append whose code length differs), the data is real and the test asserts that the
// command stopped before encoding: no "encoded N/N images" progress line on stderr, and the index
// untouched.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/snapshot.h"
#include "formats/weights_file.h"
#include "search/index_file.h"
#include "tests/support/commands.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::plus;
using dlbhc::test::TempDir;

using dlbhc::test::error_of;
using dlbhc::test::has;
using dlbhc::test::read_all;

namespace {

const char* kSolver = R"(net: "net.prototxt"
base_lr: 0.01
lr_policy: "fixed"
max_iter: 8
snapshot: 4
snapshot_prefix: "snap/early"
)";

// The tiny net (tests/support/tiny_net.h) with fc7 32 and `latent` bits: builds and runs in milliseconds.
std::string net_text(int latent) { return test::tiny_net_prototxt({"EarlyNet", "train", 16, 16, 32, latent, 4}); }

// The command's error message ("" when it succeeded) and what it printed on stderr meanwhile.
struct Outcome {
    std::string error, err;
};

template <class F>
Outcome run_captured(const std::string& log, F&& fn) {
    Outcome o;
    {
        test::Redirect r("", log);
        o.error = error_of(fn);
    }
    o.err = read_all(log);
    return o;
}

// A scratch folder with the net (latent 16), the solver, a 40-image random MNIST-format dataset
// and weights for the net drawn from its fillers (trained or not makes no difference here).
struct Setup {
    TempDir dir;
    std::string net, net8, solver, data, weights, missing_data;
    Setup() {
        net = dir.file("net.prototxt");
        net8 = dir.file("net8.prototxt");
        solver = dir.file("solver.prototxt");
        test::write_text(net, net_text(16));
        test::write_text(net8, net_text(8));
        test::write_text(solver, kSolver);
        std::mt19937 rng(5);
        const uint32_t n = 40;
        std::vector<uint8_t> pixels(n * 784), labels(n);
        for (auto& p : pixels) p = uint8_t(rng() & 255);
        for (auto& l : labels) l = uint8_t(rng() % 4);
        test::write_bytes(dir.file("train-images-idx3-ubyte"), test::make_idx({n, 28, 28}, pixels));
        test::write_bytes(dir.file("train-labels-idx1-ubyte"), test::make_idx({n}, labels));
        data = dir.file("train");
        missing_data = dir.file("nothing/train");  // reading it fails: a check that comes first wins
        weights = dir.file("w.weights");
        write_weights(weights, fresh_weights());
    }
    WeightsFile fresh_weights() const {
        NetBuildOptions bo;
        bo.batch = 1, bo.channels = 1, bo.height = 28, bo.width = 28;
        auto n = build_net(load_net_spec(net), Phase::Test, bo);
        Rng init(1);
        n->init_params(init);
        return weights_from_net(*n);
    }
    // An index of `count` items with `bits`-bit codes and `dim`-d features (0: none).
    void make_index(const std::string& path, int bits, int dim, size_t count = 3) const {
        CodeSet codes(bits);
        std::vector<uint64_t> code(size_t(code_words(bits)), 0x5a5a5a5a5a5a5a5aull);
        if (bits % 64) code.back() &= (1ull << (bits % 64)) - 1;
        for (size_t i = 0; i < count; ++i) codes.add(code.data());
        std::vector<float> feats(count * size_t(dim), 0.5f);
        IndexItems items;
        items.codes = CodeView{codes.code(0), codes.size(), codes.bits(), codes.words()};
        items.features = dim ? feats.data() : nullptr;
        items.feature_dim = dim;
        write_index(path, items);
    }
    std::vector<std::string> index_args(const std::string& data_spec, const std::string& out) const {
        return {"--net", net, "--weights", weights, "--data", data_spec, "--out", out};
    }
};

}  // namespace

TEST_CASE("early checks: index --out must be a file that can be written, checked before the data is read") {
    Setup s;
    const std::string folder = s.dir.mkdir("existing");
    std::string e = error_of([&] { cmd_index(s.index_args(s.missing_data, folder)); });
    CHECK_MESSAGE(has(e, "--out '" + folder + "': expected a file name, found an existing folder"), e);

    test::write_text(s.dir.file("plain"), "x");
    e = error_of([&] { cmd_index(s.index_args(s.missing_data, s.dir.file("plain/sub/db.idx"))); });
    CHECK_MESSAGE(has(e, "expected '" + s.dir.file("plain") + "' to be a folder, found a file"), e);

    // A folder where no file can be created, whoever runs the test (root included).
    e = error_of([&] { cmd_index(s.index_args(s.missing_data, "/proc/self/db.idx")); });
    CHECK_MESSAGE(has(e, "--out '/proc/self/db.idx': cannot create files in folder '/proc/self'"), e);

    // A missing folder is fine (it is made when the index is written): the data is what fails.
    e = error_of([&] { cmd_index(s.index_args(s.missing_data, s.dir.file("new/db.idx"))); });
    CHECK_MESSAGE(has(e, "nothing"), e);
    CHECK_FALSE(std::ifstream(s.dir.file("new")).good());  // the check created nothing
}

TEST_CASE("early checks: index --append refuses a missing or incompatible index before encoding") {
    Setup s;
    const std::string db = s.dir.file("db.idx");
    // No index to append to.
    std::string e = error_of([&] { cmd_index(plus(s.index_args(s.missing_data, db), {"--append"})); });
    CHECK_MESSAGE(has(e, "index file '" + db + "'"), e);

    // Features wanted or not, and their storage: known from the options alone.
    s.make_index(db, 16, 32);
    e = error_of([&] { cmd_index(plus(s.index_args(s.missing_data, db), {"--append", "--no-features"})); });
    CHECK_MESSAGE(has(e, "--append: index file '" + db + "' holds features"), e);
    e = error_of([&] { cmd_index(plus(s.index_args(s.missing_data, db), {"--append", "--f16"})); });
    CHECK_MESSAGE(has(e, "stores float32 features"), e);

    // Code length and feature dimension: known once the net is built, before any image is encoded.
    const std::string db8 = s.dir.file("db8.idx"), db20 = s.dir.file("db20.idx");
    s.make_index(db8, 8, 32);
    s.make_index(db20, 16, 20);
    const std::string before8 = read_all(db8), before20 = read_all(db20);
    Outcome o = run_captured(s.dir.file("err.txt"), [&] { cmd_index(plus(s.index_args(s.data, db8), {"--append"})); });
    CHECK_MESSAGE(has(o.error, "the net makes 16-bit codes (fc8_kevin_encode) but index '" + db8 + "' holds 8-bit codes"),
                  o.error);
    CHECK_MESSAGE(!has(o.err, "encoded"), o.err);
    CHECK(read_all(db8) == before8);
    o = run_captured(s.dir.file("err.txt"), [&] { cmd_index(plus(s.index_args(s.data, db20), {"--append"})); });
    CHECK_MESSAGE(has(o.error, "the net's features (fc7) have 32 dimensions but index '" + db20 + "' stores 20"), o.error);
    CHECK_MESSAGE(!has(o.err, "encoded"), o.err);
    CHECK(read_all(db20) == before20);

    // The same data into a compatible index: encoded and appended.
    o = run_captured(s.dir.file("err.txt"), [&] { CHECK(cmd_index(plus(s.index_args(s.data, db), {"--append"})) == 0); });
    CHECK_MESSAGE(o.error.empty(), o.error);
    CHECK(has(o.err, "encoded 40/40"));
    CHECK(IndexFile::open(db).size() == 43);
}

TEST_CASE("early checks: train refuses absurd sizes and unwritable outputs before reading the data") {
    Setup s;
    auto train = [&](const std::vector<std::string>& more) {
        return error_of([&] {
            cmd_train(plus({"--solver", s.solver, "--net", s.net, "--train-data", s.missing_data, "--test-data", "none"}, more));
        });
    };
    std::string e = train({"--bits", "70000"});
    CHECK_MESSAGE(has(e, "option --bits expects an integer from 1 to 65535, got '70000'"), e);
    e = train({"--batch", "0"});
    CHECK_MESSAGE(has(e, "option --batch expects an integer >= 1, got '0'"), e);
    e = train({"--classes", "1"});
    CHECK_MESSAGE(has(e, "option --classes expects an integer from 2 to"), e);
    e = train({"--max-iter", "0"});
    CHECK_MESSAGE(has(e, "option --max-iter expects an integer >= 1"), e);
    e = train({"--time-limit", "-5"});
    CHECK_MESSAGE(has(e, "--time-limit must be positive"), e);
    e = train({"--out", s.dir.mkdir("outdir")});
    CHECK_MESSAGE(has(e, "--out '" + s.dir.file("outdir") + "': expected a file name, found an existing folder"), e);
    test::write_text(s.dir.file("plain"), "x");
    e = train({"--snapshot-prefix", s.dir.file("plain/run")});
    CHECK_MESSAGE(has(e, "--snapshot-prefix '" + s.dir.file("plain/run") + "_iter_8.weights': expected '" +
                             s.dir.file("plain") + "' to be a folder, found a file"),
                  e);
    e = train({"--weights", s.dir.file("no.weights")});
    CHECK_MESSAGE(has(e, "no.weights"), e);
    e = train({"--mean", s.dir.file("no_mean.binaryproto")});
    CHECK_MESSAGE(has(e, "--mean '" + s.dir.file("no_mean.binaryproto") + "'"), e);

    // A prototxt whose latent layer is too long for a hash code, without --bits.
    std::string big = net_text(70000);
    test::write_text(s.dir.file("big.prototxt"), big);
    e = error_of([&] {
        cmd_train({"--solver", s.solver, "--net", s.dir.file("big.prototxt"), "--train-data", s.missing_data});
    });
    CHECK_MESSAGE(has(e, "latent layer 'fc8_kevin' has num_output 70000 but a hash code holds at most 65535 bits"), e);
    // Nothing was trained or written.
    CHECK_FALSE(std::ifstream(s.dir.file("snap")).good());
}

TEST_CASE("early checks: encode, eval, query, convert and audit check their outputs before the work") {
    Setup s;
    const std::string folder = s.dir.mkdir("existing");
    std::string e = error_of([&] {
        cmd_encode({"--net", s.net, "--weights", s.weights, "--data", s.missing_data, "--latent-npy", folder});
    });
    CHECK_MESSAGE(has(e, "--latent-npy '" + folder + "': expected a file name, found an existing folder"), e);
    e = error_of([&] {
        cmd_encode({"--net", s.net, "--weights", s.weights, "--data", s.missing_data, "--out", s.dir.file("a.txt"),
                    "--features-npy", s.dir.path + "/./a.txt"});
    });
    CHECK_MESSAGE(has(e, "--out and --features-npy name the same file"), e);
    e = error_of([&] { cmd_encode({"--net", s.net, "--weights", s.weights, "--data", s.missing_data, "--bits", "0"}); });
    CHECK_MESSAGE(has(e, "option --bits expects an integer from 1 to 65535, got '0'"), e);

    const std::string db = s.dir.file("db.idx");
    s.make_index(db, 16, 32);
    e = error_of([&] {
        cmd_eval({"--net", s.net, "--weights", s.weights, "--index", db, "--queries", s.missing_data, "--json", folder});
    });
    CHECK_MESSAGE(has(e, "--json '" + folder + "'"), e);
    e = error_of([&] {
        cmd_eval({"--net", s.net, "--weights", s.weights, "--index", db, "--queries", s.missing_data, "--max-queries", "0"});
    });
    CHECK_MESSAGE(has(e, "option --max-queries expects an integer >= 1"), e);
    // eval with a net of other code length than the index: refused before the queries are encoded.
    const std::string db8 = s.dir.file("db8.idx");
    s.make_index(db8, 8, 32);
    Outcome o = run_captured(s.dir.file("err.txt"), [&] {
        cmd_eval({"--net", s.net, "--weights", s.weights, "--index", db8, "--queries", s.data});
    });
    CHECK_MESSAGE(has(o.error, "the net makes 16-bit codes"), o.error);
    CHECK_MESSAGE(!has(o.err, "encoded"), o.err);

    e = error_of([&] {
        cmd_query({"--net", s.net, "--weights", s.weights, "--index", db, "--item", s.missing_data + ":0", "--html", folder});
    });
    CHECK_MESSAGE(has(e, "--html '" + folder + "'"), e);

    // convert: OUT is checked before the input is read (here the input does not even exist).
    e = error_of([&] { cmd_convert({s.dir.file("missing.caffemodel"), folder}); });
    CHECK_MESSAGE(has(e, "OUT '" + folder + "': expected a file name, found an existing folder"), e);

    // audit: --dump must be a folder (or creatable), checked before the net is read.
    test::write_text(s.dir.file("plain"), "x");
    e = error_of([&] {
        cmd_audit({"--net", s.dir.file("missing.prototxt"), "--npy", s.dir.file("x.npy"), "--dump", s.dir.file("plain")});
    });
    CHECK_MESSAGE(has(e, "--dump '" + s.dir.file("plain") + "': expected a folder, found a file"), e);

    // summary and net: a code length no index can hold.
    e = error_of([&] { cmd_summary({"--bits", "70000"}); });
    CHECK_MESSAGE(has(e, "option --bits expects an integer from 1 to 65535"), e);
    e = error_of([&] { cmd_net({s.net, "--bits", "70000"}); });
    CHECK_MESSAGE(has(e, "option --bits expects an integer from 1 to 65535"), e);
}

TEST_CASE("non-finite weights: index, encode and train --weights refuse NaN and infinity, naming file and tensor") {
    Setup s;
    WeightsFile w = s.fresh_weights();
    auto poison = [&](const std::string& tensor, size_t at, float v, const std::string& file) {
        WeightsFile p = w;
        for (auto& t : p.tensors)
            if (t.name == tensor) t.data.at(at) = v;
        write_weights(file, p);
    };
    const std::string nan_w = s.dir.file("nan.weights"), inf_w = s.dir.file("inf.weights"), ninf_w = s.dir.file("ninf.weights");
    poison("fc7.weight", 1234, std::numeric_limits<float>::quiet_NaN(), nan_w);
    poison("fc8_kevin.bias", 3, std::numeric_limits<float>::infinity(), inf_w);
    poison("fc8_pascal.weight", 0, -std::numeric_limits<float>::infinity(), ninf_w);

    std::string e = error_of([&] {
        cmd_index({"--net", s.net, "--weights", nan_w, "--data", s.data, "--out", s.dir.file("db.idx")});
    });
    CHECK_MESSAGE(has(e, "weights file '" + nan_w + "': tensor 'fc7.weight' (32, 49) holds NaN at element 1234 (of 1568); "
                         "expected finite values"),
                  e);
    CHECK_FALSE(std::ifstream(s.dir.file("db.idx")).good());

    e = error_of([&] { cmd_encode({"--net", s.net, "--weights", inf_w, "--data", s.data}); });
    CHECK_MESSAGE(has(e, "weights file '" + inf_w + "': tensor 'fc8_kevin.bias' (16) holds +inf at element 3 (of 16)"), e);

    e = error_of([&] {
        cmd_train({"--solver", s.solver, "--net", s.net, "--train-data", s.data, "--test-data", "none", "--weights", ninf_w,
                   "--snapshot-prefix", s.dir.file("snap/x")});
    });
    CHECK_MESSAGE(has(e, "tensor 'fc8_pascal.weight' (4, 16) holds -inf at element 0"), e);
    CHECK_FALSE(std::ifstream(s.dir.file("snap/x_iter_4.weights")).good());

    // The same weights, finite, are accepted.
    CHECK(cmd_index({"--net", s.net, "--weights", s.weights, "--data", s.data, "--out", s.dir.file("ok.idx")}) == 0);
}

TEST_CASE("non-finite weights: load_weights leaves the net unchanged; a snapshot with NaN momentum is refused") {
    Setup s;
    NetBuildOptions bo;
    bo.batch = 1, bo.channels = 1, bo.height = 28, bo.width = 28;
    auto net = build_net(load_net_spec(s.net), Phase::Test, bo);
    Rng init(2);
    net->init_params(init);
    const WeightsFile before = weights_from_net(*net);
    WeightsFile w = s.fresh_weights();
    w.source = "model.caffemodel";  // load_weights is where every format reaches a net
    w.tensors.back().data.back() = std::nanf("");
    const std::string e = error_of([&] { load_weights(*net, w); });
    CHECK_MESSAGE(has(e, "weights file 'model.caffemodel': tensor '" + w.tensors.back().name + "'"), e);
    CHECK_MESSAGE(has(e, "holds NaN"), e);
    const WeightsFile after = weights_from_net(*net);
    for (size_t i = 0; i < before.tensors.size(); ++i) CHECK(after.tensors[i].data == before.tensors[i].data);

    // A snapshot: weights and momentum are both checked, before the data is read.
    TrainState st;
    st.iter = 4;
    for (const auto& t : s.fresh_weights().tensors) {
        st.tensors.emplace_back(t.name, to_tensor(t));
        Tensor m = to_tensor(t);
        m.zero();
        if (t.name == "fc7.weight") m.data()[77] = std::nanf("");
        st.tensors.emplace_back(t.name + "@momentum", m);
    }
    const std::string snap = s.dir.file("snap_iter_4.weights");
    save_train_state(snap, st);
    const std::string r = error_of([&] {
        cmd_train({"--solver", s.solver, "--net", s.net, "--train-data", s.missing_data, "--resume", snap});
    });
    CHECK_MESSAGE(has(r, "snapshot '" + snap + "': tensor 'fc7.weight@momentum' (32, 49) holds NaN at element 77"), r);
}
