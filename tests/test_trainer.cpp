// tests/test_trainer.cpp -- the training loop: resume is bit-identical, a non-finite loss stops
// training and keeps the last good snapshot, snapshots load as weights.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "data/batcher.h"
#include "tests/test_data_util.h"
#include "data/dataset.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/inner_product.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/sigmoid.h"
#include "formats/snapshot.h"
#include "nn/softmax_loss.h"
#include "nn/trainer.h"
#include "formats/weights_file.h"

using namespace dlbhc;
using dlbhc::test::TempDir;
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

    // Control: restoring without the dropout state or the data position diverges (the test can fail).
    auto broken = tiny_net(B);
    Source src_b(*ds, B, true);
    SGDSolver sgd_b(*broken, solver_param(25));
    Trainer t_b(*broken, sgd_b, src_b, nullptr, opt2);
    TrainState st = load_train_state(dir.file("run_iter_10.weights"));
    BatcherState bs = BatcherState::from_bytes(st.meta["source.train"]);
    bs.position += 1;  // one image off
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
