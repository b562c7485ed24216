// tests/formats/test_solver_spec.cpp -- Caffe solver files (nn/solver_spec): the shipped authors' solver,
// path resolution, defaults, and every rejected setting with its file:line:col.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "formats/caffe_spec.h"
#include "formats/solver_spec.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::error_of;

namespace {

const std::string kMinimal = "net: \"n.prototxt\"\nbase_lr: 0.01\nlr_policy: \"fixed\"\nmax_iter: 10\n";

}  // namespace

TEST_CASE("solver_spec: the shipped authors' solver") {
    const std::string path = test::repo_path("weights/solver_cifar10_48.prototxt");
    SolverSpec s = load_solver_spec(path);
    CHECK(s.file == path);
    CHECK(s.param.base_lr == doctest::Approx(0.001));
    CHECK(s.param.lr_policy == "step");
    CHECK(s.param.gamma == doctest::Approx(0.1));
    CHECK(s.param.stepsize == 25000);
    CHECK(s.param.max_iter == 50000);
    CHECK(s.param.momentum == doctest::Approx(0.9));
    CHECK(s.param.weight_decay == doctest::Approx(0.0005));
    CHECK(s.param.regularization_type == "L2");
    CHECK(s.test_iter == std::vector<int>{100});
    CHECK(s.test_interval == 100);
    CHECK(s.display == 20);
    CHECK(s.snapshot == 10000);
    CHECK(s.test_initialization);
    CHECK(s.random_seed == -1);
    CHECK(s.notes.empty());
    // The schedule: 1e-3 until iteration 25000, then 1e-4.
    CHECK(learning_rate(s.param, 24999) == doctest::Approx(1e-3));
    CHECK(learning_rate(s.param, 25000) == doctest::Approx(1e-4));
    // Paths resolve against the solver's folder, and the net they name parses.
    CHECK(s.net == test::repo_path("weights/caffenet_dlbhc_train_val.prototxt"));
    CHECK(s.train_net_path() == s.net);
    CHECK(s.test_net_paths() == std::vector<std::string>{s.net});
    CHECK(s.snapshot_prefix == test::repo_path("weights/KevinNet_CIFAR10_48"));
    NetSpec net = load_net_spec(s.train_net_path());
    CHECK(net.data_layer(Phase::Train)->data.batch_size == 32);  // docs/method.md, "Solver": batch 32
}

TEST_CASE("solver_spec: defaults, paths and accepted-but-ignored settings") {
    SolverSpec s = parse_solver_spec(kMinimal, "s.prototxt", "/base/dir");
    CHECK(s.net == "/base/dir/n.prototxt");
    CHECK(s.param.momentum == 0.0);
    CHECK(s.param.weight_decay == 0.0);
    CHECK(s.param.clip_gradients < 0);
    CHECK(s.test_iter.empty());
    CHECK(s.test_interval == 0);
    CHECK(s.average_loss == 1);
    CHECK(s.snapshot_after_train);
    CHECK(s.snapshot_prefix.empty());
    // Absolute paths stay; without a base folder relative paths stay as written.
    CHECK(parse_solver_spec("net: \"/abs/n.prototxt\"\nbase_lr: 1\nlr_policy: \"fixed\"\nmax_iter: 1", "s", "/b").net ==
          "/abs/n.prototxt");
    CHECK(parse_solver_spec(kMinimal, "s").net == "n.prototxt");

    SolverSpec full = parse_solver_spec(
        "train_net: \"train.prototxt\"\ntest_net: \"a.prototxt\"\ntest_net: \"b.prototxt\"\ntest_iter: 5\ntest_iter: 7\n"
        "test_interval: 50\ntest_initialization: false\nbase_lr: 0.1\nlr_policy: \"multistep\"\nstepvalue: 10\nstepvalue: 20\n"
        "gamma: 0.5\nmax_iter: 30\nmomentum: 0.9\nweight_decay: 0.001\nregularization_type: \"L1\"\nclip_gradients: 5\n"
        "display: 10\naverage_loss: 4\nsnapshot: 15\nsnapshot_prefix: \"snap/x\"\nsnapshot_after_train: false\n"
        "random_seed: 1234\niter_size: 1\ntype: \"SGD\"\nsolver_type: SGD\nsolver_mode: GPU\ndevice_id: 0\ndebug_info: false\n"
        "weights: \"init.caffemodel\"\n",
        "full.prototxt", "d");
    CHECK(full.train_net == "d/train.prototxt");
    CHECK(full.train_net_path() == "d/train.prototxt");
    CHECK(full.test_net_paths() == std::vector<std::string>{"d/a.prototxt", "d/b.prototxt"});
    CHECK(full.test_iter == std::vector<int>{5, 7});
    CHECK_FALSE(full.test_initialization);
    CHECK(full.param.stepvalue == std::vector<int>{10, 20});
    CHECK(learning_rate(full.param, 25) == doctest::Approx(0.025));
    CHECK(full.param.regularization_type == "L1");
    CHECK(full.param.clip_gradients == 5.0);
    CHECK(full.average_loss == 4);
    CHECK(full.snapshot_prefix == "d/snap/x");
    CHECK_FALSE(full.snapshot_after_train);
    CHECK(full.random_seed == 1234);
    CHECK(full.weights == std::vector<std::string>{"d/init.caffemodel"});
    REQUIRE(full.notes.size() == 3);
    CHECK(full.notes[0] == "full.prototxt:27:1: solver_mode GPU ignored: dlbhc runs on the CPU");
    CHECK(full.notes[1].find("device_id ignored") != std::string::npos);
    CHECK(full.notes[2].find("debug_info ignored") != std::string::npos);

    // Loading from a file resolves against that file's folder.
    const std::string path = "/tmp/dlbhc_test_solver_spec.prototxt";
    std::ofstream(path) << kMinimal;
    CHECK(load_solver_spec(path).net == "/tmp/n.prototxt");
    std::remove(path.c_str());
}

TEST_CASE("solver_spec: rejected settings name file, line and column") {
    struct Case {
        std::string extra, expected;
    };
    // Each `extra` is appended to the minimal solver (4 lines), so it sits on line 5.
    const Case cases[] = {
        {"base_lrr: 0.1", "s:5:1: unknown field 'base_lrr' in the solver (SolverParameter)"},
        {"type: \"Adam\"", "s:5:1: field 'type' is \"Adam\"; dlbhc implements SGD with momentum only"},
        {"solver_type: NESTEROV", "s:5:1: field 'solver_type' is NESTEROV; dlbhc implements SGD with momentum only"},
        {"iter_size: 2", "s:5:1: field 'iter_size' must be 1 (gradient accumulation over several batches is not implemented)"},
        {"train_net: \"t\"", "s:5:1: field 'train_net' cannot be combined with net"},
        {"test_iter: 1\ntest_iter: 2", "s:6:1: field 'test_iter' is given 2 times for 1 test net(s)"},
        {"test_interval: 10", "s:5:1: field 'test_interval' is set but test_iter is not"},
        {"delta: 1e-8", "s:5:1: field 'delta' is a setting of the AdaGrad / Adam / RMSProp solvers"},
        {"net_param { }", "s:5:1: field 'net_param' (a net written inside the solver) is not supported"},
        {"test_state { }", "s:5:1: field 'test_state' (NetState) is not supported"},
        {"momentum: -0.5", "s:5:1: field 'momentum' must be >= 0"},
        {"regularization_type: \"L3\"", "s:5:1: field 'regularization_type' is \"L3\" but must be \"L2\" or \"L1\""},
        {"solver_mode: TPU", "s:5:1: field 'solver_mode' must be CPU or GPU, got TPU"},
        {"display: -1", "s:5:1: field 'display' must be >= 0, got -1"},
        {"max_iter: 20", "s:5:1: field 'max_iter' is given again (first at 4:1)"},
        {"gamma: inf", "s:5:1: field 'gamma' must be a finite number, got inf"},
        {"snapshot_diff: true", "s:5:1: field 'snapshot_diff' must be false"},
    };
    for (const Case& c : cases) {
        const std::string msg = error_of([&] { parse_solver_spec(kMinimal + c.extra + "\n", "s"); });
        INFO("error: " << msg);
        INFO("expected: " << c.expected);
        CHECK(msg.find(c.expected) != std::string::npos);
    }
    struct Whole {
        std::string text, expected;
    };
    const Whole wholes[] = {
        {"base_lr: 0.1\nlr_policy: \"fixed\"\nmax_iter: 10\n", "s:1:1: the solver needs 'net' or 'train_net'"},
        {"net: \"n\"\nlr_policy: \"fixed\"\nmax_iter: 10\n", "s:1:1: the solver needs 'base_lr'"},
        {"net: \"n\"\nbase_lr: 0.1\nmax_iter: 10\n", "s:1:1: the solver needs 'lr_policy'"},
        {"net: \"n\"\nbase_lr: 0.1\nlr_policy: \"fixed\"\n", "s:1:1: the solver needs 'max_iter'"},
        {"net: \"n\"\nbase_lr: 0.1\nlr_policy: \"warmup\"\nmax_iter: 10\n", "s:3:1: field 'lr_policy' (warmup): solver: unknown lr_policy 'warmup'"},
        {"net: \"n\"\nbase_lr: 0.1\nlr_policy: \"step\"\nstepsize: 0\nmax_iter: 10\n", "s:4:1: field 'stepsize' must be >= 1, got 0"},
        {"net: \"n\"\nbase_lr: 0.1\nlr_policy: \"multistep\"\nstepvalue: 20\nstepvalue: 10\nmax_iter: 30\n",
         "s:3:1: field 'lr_policy' (multistep): solver: stepvalue must be strictly increasing"},
        {"net: \"n\"\nbase_lr: -1\nlr_policy: \"fixed\"\nmax_iter: 10\n", "s:2:1: field 'base_lr' must be a finite number >= 0, got -1"},
        {"net: \"n\"\nbase_lr: 0.1\nlr_policy: \"fixed\"\nmax_iter: 0\n", "s:4:1: field 'max_iter' must be >= 1, got 0"},
        {"net: \"n\"\nbase_lr: 0.1\nlr_policy: fixed\nmax_iter: 10\n", "s:3:1: field 'lr_policy' expects a quoted string but holds identifier fixed"},
        {"net: \"n\"\nbase_lr: 0.1\nlr_policy: \"fixed\"\nmax_iter: 10\n  bogus {\n", "s:6:1: expected '}'"},
    };
    for (const Whole& w : wholes) {
        const std::string msg = error_of([&] { parse_solver_spec(w.text, "s"); });
        INFO("error: " << msg);
        INFO("expected: " << w.expected);
        CHECK(msg.find(w.expected) != std::string::npos);
    }
    CHECK(error_of([] { load_solver_spec("/nonexistent/solver.prototxt"); }).find("/nonexistent/solver.prototxt: cannot open") == 0);
}
