// tests/nn/test_trainer.cpp -- the training loop: resume is bit-identical, a non-finite loss stops
// training and keeps the last good snapshot, snapshots load as weights.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "apps/commands.h"
#include "data/batcher.h"
#include "tests/support/test_files.h"
#include "data/dataset.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/inner_product.h"
#include "nn/k1_euclidean_loss.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/sigmoid.h"
#include "formats/snapshot.h"
#include "nn/softmax_loss.h"
#include "nn/trainer.h"
#include "formats/weights_file.h"

using namespace dlbhc;
using dlbhc::test::TempDir;
using dlbhc::test::make_idx;
using dlbhc::test::write_bytes;
using dlbhc::test::write_text;
namespace fs = std::filesystem;

namespace {


// A small labelled image set: 8x8 grey images whose class is which quadrant is bright.
std::unique_ptr<MemoryDataset> quadrant_dataset(size_t n, uint64_t seed) {
    auto ds = std::make_unique<MemoryDataset>(1, 8, 8, "quad", 4);
    Rng r(seed);
    uint8_t px[64];
    for (size_t i = 0; i < n; ++i) {
        const int label = int(r.below(4));
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x) {
                const int q = (y >= 4) * 2 + (x >= 4);
                px[y * 8 + x] = uint8_t((q == label ? 160 : 40) + r.below(60));
            }
        ds->add(px, label);
    }
    return ds;
}

// conv -> relu -> pool -> fc -> dropout -> latent -> sigmoid -> classifier -> loss, on (N, 1, 6, 6).
std::unique_ptr<Net> tiny_net(int batch) {
    auto net = std::make_unique<Net>("tiny");
    net->add_input("data", Shape(batch, 1, 6, 6));
    net->add_input("label", Shape(batch));
    ConvParam cp = ConvParam::square(4, 3);
    cp.weight_filler = FillerParam::xavier();
    net->add(std::make_unique<ConvolutionLayer>("conv1", cp), {"data"}, {"conv1"});
    net->add(std::make_unique<ReLULayer>("relu1"), {"conv1"}, {"conv1"});
    net->add(std::make_unique<PoolingLayer>("pool1", PoolingParam::square(PoolingParam::MAX, 2, 2)), {"conv1"}, {"pool1"});
    InnerProductParam fc;
    fc.num_output = 16;
    fc.weight_filler = FillerParam::xavier();
    net->add(std::make_unique<InnerProductLayer>("fc7", fc), {"pool1"}, {"fc7"});
    net->add(std::make_unique<DropoutLayer>("drop7", DropoutParam{0.3f, 5}), {"fc7"}, {"fc7"});
    InnerProductParam lat;
    lat.num_output = 8;
    lat.weight_filler = FillerParam::gaussian(0.1f);
    lat.bias_filler = FillerParam::constant(0.5f);
    net->add(std::make_unique<InnerProductLayer>("fc8_kevin", lat), {"fc7"}, {"fc8_kevin"});
    net->add(std::make_unique<SigmoidLayer>("fc8_kevin_encode"), {"fc8_kevin"}, {"fc8_kevin_encode"});
    InnerProductParam cls;
    cls.num_output = 4;
    cls.weight_filler = FillerParam::gaussian(0.1f);
    net->add(std::make_unique<InnerProductLayer>("fc8", cls), {"fc8_kevin_encode"}, {"fc8"});
    net->add(std::make_unique<SoftmaxWithLossLayer>("loss"), {"fc8", "label"}, {"loss"});
    Rng init(11);
    net->init_params(init);
    return net;
}

class Source : public BatchSource {
public:
    Source(const Dataset& ds, int batch, bool prefetch, int nan_at = -1) : nan_at_(nan_at) {
        TransformParam tp;
        tp.phase = Phase::Train;
        tp.crop = 6;
        tp.mirror = true;
        tp.scale = 1.0f / 255;
        BatcherOptions bo;
        bo.batch_size = batch;
        bo.shuffle = true;
        bo.seed = 77;
        bo.prefetch = prefetch;
        b_ = std::make_unique<Batcher>(ds, tp, bo);
    }
    void next(Tensor& data, Tensor& label) override {
        b_->next(data, label);
        if (calls_++ == nan_at_) data.data()[5] = NAN;
    }
    std::string state() const override { return b_->state().to_bytes(); }
    void restore(const std::string& s) override { b_->restore(BatcherState::from_bytes(s)); }
    bool items_taken(uint64_t* n) const override { return b_->state().items_taken(n); }

private:
    std::unique_ptr<Batcher> b_;
    int nan_at_, calls_ = 0;
};

SolverParam solver_param(int max_iter) {
    SolverParam p;
    p.base_lr = 0.05;
    p.lr_policy = "step";
    p.stepsize = 7;
    p.gamma = 0.5;
    p.momentum = 0.9;
    p.weight_decay = 5e-4;
    p.max_iter = max_iter;
    return p;
}

bool same_params(Net& a, Net& b) {
    auto pa = a.params(), pb = b.params();
    if (pa.size() != pb.size()) return false;
    for (size_t i = 0; i < pa.size(); ++i)
        if (pa[i]->value.count() != pb[i]->value.count() ||
            std::memcmp(pa[i]->value.data(), pb[i]->value.data(), pa[i]->value.count() * sizeof(float)) != 0)
            return false;
    return true;
}

}  // namespace

TEST_CASE("trainer: resuming from a snapshot ends bit-identical to an uninterrupted run") {
    TempDir dir;
    auto ds = quadrant_dataset(100, 3);
    const int B = 8;
    TrainOptions opt;
    opt.display = 0;
    opt.snapshot = 10;
    opt.snapshot_prefix = dir.file("run");
    opt.save_state = save_train_state;

    // Uninterrupted: 25 iterations (snapshots at 10 and 20 on the way).
    auto full = tiny_net(B);
    Source src_full(*ds, B, true);
    SGDSolver sgd_full(*full, solver_param(25));
    Trainer t_full(*full, sgd_full, src_full, nullptr, opt);
    TrainResult r = t_full.run();
    CHECK(r.iter == 25);
    CHECK_FALSE(r.stopped_non_finite);
    REQUIRE(fs::exists(dir.file("run_iter_10.weights")));
    REQUIRE(fs::exists(dir.file("run_iter_25.weights")));

    // Resumed: a fresh net (other initial weights, other dropout state) from the iteration-10 snapshot.
    // The fresh source has its prefetch thread off: the batches must not depend on it.
    auto resumed = tiny_net(B);
    for (Param* p : resumed->params()) p->value.fill(0.123f);
    Source src_res(*ds, B, false);
    SGDSolver sgd_res(*resumed, solver_param(25));
    TrainOptions opt2 = opt;
    opt2.snapshot_prefix = dir.file("resumed");
    opt2.save_state = save_train_state;
    Trainer t_res(*resumed, sgd_res, src_res, nullptr, opt2);
    t_res.restore(load_train_state(dir.file("run_iter_10.weights")));
    CHECK(sgd_res.iter() == 10);
    CHECK_FALSE(same_params(*full, *resumed));
    t_res.run();
    CHECK(sgd_res.iter() == 25);
    CHECK(same_params(*full, *resumed));

    // Control: restoring another augmentation state diverges (the test can fail).
    auto broken = tiny_net(B);
    Source src_b(*ds, B, true);
    SGDSolver sgd_b(*broken, solver_param(25));
    Trainer t_b(*broken, sgd_b, src_b, nullptr, opt2);
    TrainState st = load_train_state(dir.file("run_iter_10.weights"));
    BatcherState bs = BatcherState::from_bytes(st.meta["source.train"]);
    bs.rng[0] ^= 1;  // other crops and mirrors
    st.meta["source.train"] = bs.to_bytes();
    t_b.restore(st);
    t_b.run();
    CHECK_FALSE(same_params(*full, *broken));
}

TEST_CASE("trainer: a snapshot loads as a weights file; a weights file is not a snapshot") {
    TempDir dir;
    auto ds = quadrant_dataset(40, 4);
    auto net = tiny_net(4);
    Source src(*ds, 4, true);
    SGDSolver sgd(*net, solver_param(3));
    TrainOptions opt;
    opt.display = 0;
    opt.snapshot_prefix = dir.file("s");
    opt.save_state = save_train_state;
    Trainer t(*net, sgd, src, nullptr, opt);
    TrainResult r = t.run();
    REQUIRE(r.last_snapshot == dir.file("s_iter_3.weights"));
    auto other = tiny_net(4);
    WeightsLoadReport rep = load_weights(*other, read_weights(r.last_snapshot));
    CHECK(rep.missing.empty());
    CHECK(rep.loaded.size() == net->params().size());
    CHECK(rep.unused.size() == net->params().size());  // the "@momentum" tensors
    CHECK(same_params(*net, *other));

    write_weights(dir.file("plain.weights"), weights_from_net(*net));
    try {
        load_train_state(dir.file("plain.weights"));
        FAIL("a plain weights file was accepted as a snapshot");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("plain.weights") != std::string::npos);
        CHECK(std::string(e.what()).find("without training state") != std::string::npos);
    }
}

TEST_CASE("trainer: a NaN loss stops training and keeps the last good snapshot") {
    TempDir dir;
    auto ds = quadrant_dataset(60, 5);
    // data -> fully connected -> softmax loss: nothing between the input and the loss can hide a NaN
    // (a ReLU or a max-pool would turn it into a number).
    auto net = std::make_unique<Net>("linear");
    net->add_input("data", Shape(4, 1, 6, 6));
    net->add_input("label", Shape(4));
    InnerProductParam fc;
    fc.num_output = 4;
    fc.weight_filler = FillerParam::gaussian(0.1f);
    net->add(std::make_unique<InnerProductLayer>("fc8", fc), {"data"}, {"fc8"});
    net->add(std::make_unique<SoftmaxWithLossLayer>("loss"), {"fc8", "label"}, {"loss"});
    Rng init(3);
    net->init_params(init);
    Source src(*ds, 4, true, /*nan_at=*/7);  // the 8th batch carries a NaN pixel
    SGDSolver sgd(*net, solver_param(40));
    TrainOptions opt;
    opt.display = 0;
    opt.snapshot = 5;
    opt.snapshot_prefix = dir.file("n");
    opt.save_state = save_train_state;
    std::string logged;
    Trainer t(*net, sgd, src, nullptr, opt, [&](const std::string& l) { logged += l + "\n"; });
    TrainResult r = t.run();
    CHECK(r.stopped_non_finite);
    CHECK(r.iter == 8);
    CHECK_FALSE(std::isfinite(r.last_loss));
    CHECK(r.last_snapshot == dir.file("n_iter_5.weights"));
    CHECK(logged.find("the loss is NaN at iteration 8") != std::string::npos);
    CHECK(logged.find("n_iter_5.weights") != std::string::npos);
    size_t files = 0;
    for (auto it = fs::directory_iterator(dir.path); it != fs::directory_iterator(); ++it) ++files;
    CHECK(files == 1);  // only the good snapshot: nothing written after the blow-up, no temporaries
    // The kept snapshot is finite and loads.
    TrainState s = load_train_state(dir.file("n_iter_5.weights"));
    CHECK(s.iter == 5);
    for (const auto& t2 : s.tensors)
        for (size_t i = 0; i < t2.second.count(); ++i) REQUIRE(std::isfinite(t2.second.data()[i]));
}

namespace {

// A snapshot file with one field changed: the real snapshot `from`, edited by `edit`, written to `to`.
template <class F>
void craft(const std::string& from, const std::string& to, F edit) {
    WeightsFile w = read_weights(from);
    edit(w);
    write_weights(to, w);
}

void set_batcher(WeightsFile& w, const std::function<void(BatcherState&)>& edit) {
    BatcherState bs = BatcherState::from_bytes(*w.meta("source.train"));
    edit(bs);
    w.set_meta("source.train", bs.to_bytes());
}

NamedTensor* tensor(WeightsFile& w, const std::string& name) {
    for (auto& t : w.tensors)
        if (t.name == name) return &t;
    FAIL("no tensor " << name);
    return nullptr;
}

}  // namespace

TEST_CASE("trainer: every field of a snapshot is checked; a bad one is refused naming the file, the field, "
          "what was expected and what was found") {
    TempDir dir;
    auto ds = quadrant_dataset(40, 6);
    const int B = 4;
    const std::string snap = dir.file("s_iter_3.weights");
    {
        auto net = tiny_net(B);
        Source src(*ds, B, false);
        SGDSolver sgd(*net, solver_param(3));
        TrainOptions opt;
        opt.display = 0;
        opt.snapshot_prefix = dir.file("s");
        opt.save_state = save_train_state;
        Trainer(*net, sgd, src, nullptr, opt).run();
        REQUIRE(fs::exists(snap));
    }
    // A fresh trainer per case; the refused snapshot must leave it exactly as it was.
    auto refused = [&](const std::string& what, const std::function<void(WeightsFile&)>& edit,
                       const std::vector<std::string>& parts) {
        CAPTURE(what);
        const std::string bad = dir.file("bad.weights");
        craft(snap, bad, edit);
        auto net = tiny_net(B), before = tiny_net(B);
        Source src(*ds, B, false);
        SGDSolver sgd(*net, solver_param(10));
        Trainer t(*net, sgd, src, nullptr, TrainOptions{});
        const std::string pos = src.state();
        std::string msg = "(no error)";
        try {
            t.restore(load_train_state(bad));
        } catch (const std::runtime_error& e) {
            msg = e.what();
        }
        INFO("error: " << msg);
        CHECK(msg.find("snapshot '" + bad + "'") != std::string::npos);
        for (const auto& p : parts) CHECK(msg.find(p) != std::string::npos);
        CHECK(sgd.iter() == 0);
        CHECK(same_params(*net, *before));
        CHECK(src.state() == pos);
        bool zero_momentum = true;
        for (const Tensor& h : sgd.history())
            for (size_t i = 0; i < h.count(); ++i) zero_momentum = zero_momentum && h.data()[i] == 0.0f;
        CHECK(zero_momentum);
    };
    const uint64_t kMax = ~0ull;

    // The data position (what `dlbhc train --resume` crashed on: epoch 2^64 - 1).
    refused("epoch 2^64-1", [&](WeightsFile& w) { set_batcher(w, [&](BatcherState& b) { b.epoch = kMax; }); },
            {"field 'source.train'", "expected an epoch of at most", "found epoch 18446744073709551615"});
    refused("epoch that disagrees with the iteration", [&](WeightsFile& w) { set_batcher(w, [](BatcherState& b) { b.epoch = 5; }); },
            {"field 'source.train'", "expected the data position after iteration 3 (3 x 4 = 12 images taken)", "found 212 images taken"});
    refused("position past the data", [&](WeightsFile& w) { set_batcher(w, [](BatcherState& b) { b.position = 41; }); },
            {"field 'source.train'", "expected a position of at most 40 (the dataset size), found 41"});
    refused("zero generator", [&](WeightsFile& w) { set_batcher(w, [](BatcherState& b) { std::memset(b.rng, 0, sizeof b.rng); }); },
            {"field 'source.train'", "expected a nonzero augmentation generator state, found all zeros"});
    refused("other batch size", [&](WeightsFile& w) { set_batcher(w, [](BatcherState& b) { b.batch_size = 5; }); },
            {"field 'source.train'", "the state is for batch size 5, this batcher has 4"});
    refused("truncated position", [&](WeightsFile& w) { w.set_meta("source.train", w.meta("source.train")->substr(0, 50)); },
            {"field 'source.train'", "expected 96 bytes, found 50"});
    refused("no position", [&](WeightsFile& w) {
        auto& m = w.metadata;
        m.erase(std::remove_if(m.begin(), m.end(), [](const auto& kv) { return kv.first == "source.train"; }), m.end());
    }, {"field 'source.train'", "expected the training-data position, found none"});
    refused("unknown source", [&](WeightsFile& w) { w.set_meta("source.validation", "x"); },
            {"field 'source.validation'", "expected data positions 'source.train' and 'source.test' only"});

    // The iteration: within [0, max_iter] of the resuming solver (10), a plain integer.
    refused("iteration past max_iter", [&](WeightsFile& w) { w.set_meta("iter", "11"); },
            {"field 'iter'", "expected an iteration in [0, 10] (the solver's max_iter), found 11"});
    refused("negative iteration", [&](WeightsFile& w) { w.set_meta("iter", "-1"); },
            {"field 'iter'", "expected a non-negative integer of at most 2147483647, found '-1'"});
    refused("huge iteration", [&](WeightsFile& w) { w.set_meta("iter", "99999999999"); },
            {"field 'iter'", "found '99999999999'"});
    refused("iteration with spaces", [&](WeightsFile& w) { w.set_meta("iter", " 3"); }, {"field 'iter'", "found ' 3'"});

    // Dropout random states.
    refused("short random state", [&](WeightsFile& w) { w.set_meta("rng.drop7", "abc"); },
            {"field 'rng.drop7'", "expected 64 hex digits, found 3"});
    refused("random state not hex", [&](WeightsFile& w) { w.set_meta("rng.drop7", std::string(63, '0') + "g"); },
            {"field 'rng.drop7'", "'g' is not a hex digit"});
    refused("zero random state", [&](WeightsFile& w) { w.set_meta("rng.drop7", std::string(64, '0')); },
            {"field 'rng.drop7'", "expected a nonzero random state, found all zeros"});
    refused("random state of another layer", [&](WeightsFile& w) { w.set_meta("rng.fc7", *w.meta("rng.drop7")); },
            {"field 'rng.fc7'", "found one for 'fc7', which is not a Dropout layer of this net"});

    // Parameters and momentum: shapes, finiteness, presence, nothing foreign.
    refused("weight of another shape (same count)", [&](WeightsFile& w) { tensor(w, "fc7.weight")->dims = {4, 64}; },
            {"field 'fc7.weight'", "expected shape (16, 16, 1, 1), found (4, 64, 1, 1)"});
    refused("momentum of another shape", [&](WeightsFile& w) {
        NamedTensor* m = tensor(w, "fc8.bias@momentum");
        m->dims = {5};
        m->data.resize(5);
    }, {"field 'fc8.bias@momentum'", "expected shape (4, 1, 1, 1), found (5, 1, 1, 1)"});
    refused("NaN weight", [&](WeightsFile& w) { tensor(w, "conv1.weight")->data[7] = NAN; },
            {"tensor 'conv1.weight' (4, 1, 3, 3) holds NaN at element 7", "expected finite values"});
    refused("infinite momentum", [&](WeightsFile& w) { tensor(w, "fc8.weight@momentum")->data[0] = INFINITY; },
            {"tensor 'fc8.weight@momentum' (4, 8) holds +inf at element 0", "expected finite values"});
    refused("missing momentum", [&](WeightsFile& w) { w.tensors.erase(w.tensors.begin() + 1); },
            {"field 'conv1.weight@momentum'", "expected a tensor of shape (4, 1, 3, 3), found none"});
    refused("foreign tensor", [&](WeightsFile& w) { w.tensors.push_back(from_tensor("conv9.weight", Tensor(Shape(2)))); },
            {"field 'conv9.weight'", "expected only the net's parameters and their momentum"});
}

TEST_CASE("trainer: `dlbhc train --resume` refuses a snapshot whose data epoch is 2^64 - 1") {
    TempDir dir;
    // 30 random 8 x 8 grey images, labels 0..3, as MNIST idx files.
    std::vector<uint8_t> px(30 * 64), labels(30);
    Rng r(9);
    for (auto& p : px) p = uint8_t(r.below(256));
    for (auto& l : labels) l = uint8_t(r.below(4));
    write_bytes(dir.file("train-images-idx3-ubyte"), make_idx({30, 8, 8}, px));
    write_bytes(dir.file("train-labels-idx1-ubyte"), make_idx({30}, labels));
    write_text(dir.file("net.prototxt"),
               "name: \"lin\"\nlayer { name: \"data\" type: \"Data\" top: \"data\" top: \"label\" "
               "transform_param { scale: 0.00390625 } data_param { source: \"train\" batch_size: 4 } }\n"
               "layer { name: \"fc\" type: \"InnerProduct\" bottom: \"data\" top: \"fc\" inner_product_param { num_output: 4 } }\n"
               "layer { name: \"loss\" type: \"SoftmaxWithLoss\" bottom: \"fc\" bottom: \"label\" top: \"loss\" }\n");
    write_text(dir.file("solver.prototxt"), "net: \"net.prototxt\"\nbase_lr: 0.01\nlr_policy: \"fixed\"\nmax_iter: 4\nsnapshot_prefix: \"snap/lin\"\n");
    const std::vector<std::string> args = {"--solver", dir.file("solver.prototxt"), "--train-data", dir.file("train"),
                                           "--test-data", "none", "--display", "1000"};
    REQUIRE(cmd_train(args) == 0);
    const std::string snap = dir.file("snap/lin_iter_4.weights"), bad = dir.file("snap/bad.weights");
    REQUIRE(fs::exists(snap));
    craft(snap, bad, [](WeightsFile& w) { set_batcher(w, [](BatcherState& b) { b.epoch = ~0ull; }); });
    std::vector<std::string> resume = args;
    resume.insert(resume.end(), {"--resume", bad, "--max-iter", "6"});
    std::string msg = "(no error)";
    try {
        cmd_train(resume);
    } catch (const std::exception& e) {
        msg = e.what();
    }
    CHECK(msg.find("snapshot '" + bad + "': field 'source.train'") != std::string::npos);
    CHECK(msg.find("found epoch 18446744073709551615") != std::string::npos);
    // The genuine snapshot resumes.
    resume[resume.size() - 3] = snap;
    CHECK(cmd_train(resume) == 0);
    CHECK(fs::exists(dir.file("snap/lin_iter_6.weights")));
}

TEST_CASE("trainer: every weighted top is printed by its name under the progress line, and they add up to its loss") {
    // The tiny net with SSDH's forcing-binary loss on the latent sigmoid (weight 0.5) beside the
    // softmax loss: the progress line's loss is the weighted sum, and each loss has its own line,
    // as Caffe prints "Train net output #k: <top> = <value> (* <weight> = <product> loss)".
    auto ds = quadrant_dataset(40, 9);
    auto net = tiny_net(4);
    net->add(std::make_unique<K1EuclideanLossLayer>("loss_1"), {"fc8_kevin_encode", "fc8_kevin_encode"},
             {"loss: forcing-binary"}, 0.5f, {true, false});
    Source src(*ds, 4, false);
    SGDSolver sgd(*net, solver_param(4));
    TrainOptions opt;
    opt.display = 2;
    opt.snapshot_after_train = false;
    std::vector<std::string> lines;
    Trainer t(*net, sgd, src, nullptr, opt, [&](const std::string& l) { lines.push_back(l); });
    t.run();
    REQUIRE(lines.size() == 6);  // two progress lines, each followed by one line per loss
    for (size_t at : {0u, 3u}) {
        CAPTURE(lines[at]);
        double total = 0, softmax = 0, softmax_part = 0, k1 = 0, k1_part = 0, w1 = 0, w2 = 0;
        REQUIRE(std::sscanf(lines[at].c_str(), "iter %*d/%*d  loss %lf", &total) == 1);
        REQUIRE(std::sscanf(lines[at + 1].c_str(), "    loss = %lf (* %lf = %lf loss)", &softmax, &w1, &softmax_part) == 3);
        REQUIRE(std::sscanf(lines[at + 2].c_str(), "    loss: forcing-binary = %lf (* %lf = %lf loss)", &k1, &w2, &k1_part) == 3);
        CHECK(w1 == 1.0);
        CHECK(w2 == 0.5);
        CHECK(k1 < 0);
        CHECK(k1 >= -0.125);  // -(1/8) is the loss of outputs that are all exactly 0 or 1
        CHECK(std::fabs(k1_part - 0.5 * k1) < 1e-4);
        CHECK(std::fabs(softmax_part + k1_part - total) < 2e-4);  // each printed to 4 decimals
    }
}
