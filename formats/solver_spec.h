// formats/solver_spec.h -- a Caffe solver.prototxt read into SolverParam (nn/solver.h) plus the
// settings of a training run (which nets, how often to display, test and snapshot).
//
// Accepted (caffe.proto SolverParameter, the fields an SGD run uses):
//   nets        net | train_net, test_net (repeated), weights (repeated: initial weights)
//   SGD         base_lr, lr_policy, gamma, power, stepsize, stepvalue, max_iter, momentum,
//               weight_decay, regularization_type (L2 | L1), clip_gradients
//   run         display, average_loss, test_iter (one per test net), test_interval,
//               test_initialization, snapshot, snapshot_prefix, snapshot_after_train, random_seed,
//               iter_size (1 only), type "SGD" / solver_type SGD (others: a clear error)
//   ignored, with a note in SolverSpec::notes: solver_mode (dlbhc runs on the CPU), device_id,
//               snapshot_format, layer_wise_reduce, debug_info
// Required: base_lr, lr_policy, max_iter and exactly one of net / train_net.
// Unknown fields, inline nets (net_param ...), NetState settings (train_state, test_state) and
// settings of other solvers (delta, momentum2, rms_decay) are errors "file:line:col: ...".
//
// Paths (net, train_net, test_net, weights, snapshot_prefix) are resolved relative to the folder
// of the solver file. (Caffe resolves them against the working directory of the `caffe` process;
// resolving against the file makes a folder of prototxt files work from anywhere.) Absolute paths
// are kept as written.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "formats/prototxt.h"
#include "nn/solver.h"

namespace dlbhc {

struct SolverSpec {
    SolverParam param;  // the update rule and learning-rate schedule
    std::string file;   // the solver file's name as given

    std::string net;                    // `net`, resolved; "" when absent
    std::string train_net;              // `train_net`, resolved; "" when absent
    std::vector<std::string> test_net;  // `test_net`, resolved
    std::vector<std::string> weights;   // `weights`, resolved (initial weights to load)

    std::vector<int> test_iter;  // batches per test, one per test net
    int test_interval = 0;       // iterations between tests; 0: never
    bool test_initialization = true;
    int display = 0;       // iterations between loss prints; 0: never
    int average_loss = 1;  // the printed loss is averaged over this many iterations
    int snapshot = 0;      // iterations between snapshots; 0: only at the end
    std::string snapshot_prefix;  // resolved
    bool snapshot_after_train = true;
    int64_t random_seed = -1;  // < 0: not set (the caller chooses)
    std::vector<std::string> notes;  // settings accepted but ignored, one line each

    // The net to train: train_net when given, else net.
    const std::string& train_net_path() const { return train_net.empty() ? net : train_net; }
    // Test nets: the test_net entries, or `net` (its TEST phase) when none is given and `net` is.
    std::vector<std::string> test_net_paths() const;
};

// Maps a parsed solver file; relative paths are resolved against `base_dir` ("" = as written).
SolverSpec solver_spec_from_ptx(const PtxMessage& root, const std::string& base_dir);
// Parses `text` (`name` is used in errors like a file name).
SolverSpec parse_solver_spec(const std::string& text, const std::string& name, const std::string& base_dir = "");
// Reads the file at `path`; relative paths inside are resolved against its folder.
SolverSpec load_solver_spec(const std::string& path);

}  // namespace dlbhc
