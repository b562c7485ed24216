// nn/trainer.h -- the training loop of `dlbhc train`: batches in, SGD steps, progress, periodic
// tests, snapshots, resume, and a stop on a non-finite loss.
//
// What a run depends on, and therefore what a snapshot holds so that a resumed run ends
// bit-identical to an uninterrupted one with the same seed:
//   - every parameter value and its momentum history (SGDSolver::history()),
//   - the iteration counter (which also fixes the learning rate),
//   - the random state of every Dropout layer (its mask generator),
//   - the position of the training batch source: epoch, place in the shuffled order and the
//     generator that shuffles, crops and mirrors (BatchSource::state()).
// The forward/backward arithmetic is deterministic for a given thread count (OpenMP splits fixed
// ranges, reductions run in a fixed order), so the same inputs give the same bits.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nn/net.h"
#include "nn/solver.h"

namespace dlbhc {

// A stream of batches. next() fills data (N, C, H, W) and label (N, 1, 1, 1), already shaped by the
// caller to the net's inputs.
class BatchSource {
public:
    virtual ~BatchSource() = default;
    virtual void next(Tensor& data, Tensor& label) = 0;
    // Opaque bytes from which restore() continues the very same sequence of batches.
    virtual std::string state() const = 0;
    virtual void restore(const std::string& state) = 0;
    // Images per pass over the data (for progress in epochs); 0 if unknown.
    virtual size_t size() const { return 0; }
    // Images taken since the start of the data, over all passes, in the current state (the one
    // reached by next() or set by restore()); false when the source cannot tell. Trainer::restore
    // checks a snapshot's data position against its iteration with it.
    virtual bool items_taken(uint64_t* n) const {
        (void)n;
        return false;
    }
};

// Everything a snapshot file holds (see snapshot.h for the file).
struct TrainState {
    std::string file;  // the snapshot it was read from ("" when made in memory), for error messages
    int iter = 0;
    std::vector<std::pair<std::string, Tensor>> tensors;  // "<param>" values, "<param>@momentum"
    std::map<std::string, std::string> meta;                // "iter", "rng.<layer>", "source", ...
};

struct TrainOptions {
    int display = 100;          // progress line every N iterations (0: only at the end)
    int snapshot = 0;           // snapshot every N iterations (0: only at the end)
    std::string snapshot_prefix;  // "<prefix>_iter_<N>.weights"; empty: no snapshots
    bool snapshot_after_train = true;
    int test_interval = 0;      // run the test batches every N iterations (0: never)
    int test_iter = 0;          // test batches per test
    bool test_initialization = true;  // also test before the first iteration
    double max_seconds = 0;     // stop early (with a snapshot) after this much time; 0: no limit
    // Writes a snapshot file (formats/snapshot.h's save_train_state). The CNN library knows no
    // file format, so whoever sets snapshot_prefix also says how a snapshot is written.
    std::function<void(const std::string& path, const TrainState& state)> save_state;
};

struct TestResult {
    double loss = 0, accuracy = -1;  // accuracy -1: the net has no classifier output to score
    int batches = 0;
};

struct TrainResult {
    int iter = 0;              // iterations done when the loop ended
    bool stopped_non_finite = false;
    std::string last_snapshot;  // path of the last snapshot written ("" if none)
    double seconds = 0;
    std::vector<TestResult> tests;
    double last_loss = 0;
};

class Trainer {
public:
    // `net` must have inputs "data" and "label" and one SoftmaxWithLoss layer. test_source may be
    // null. Progress lines go to `log` (nothing if empty).
    Trainer(Net& net, SGDSolver& solver, BatchSource& train, BatchSource* test, TrainOptions opt,
            std::function<void(const std::string&)> log = {});

    // Runs from the solver's current iteration to param().max_iter.
    TrainResult run();

    // Captures / restores the whole state listed at the top of this file. restore() checks every
    // field before it changes anything: the iteration within [0, max_iter]; exactly the net's
    // parameters and their momentum, each of the parameter's shape and finite; a valid (nonzero)
    // random state for exactly the net's Dropout layers; a training-data position that the
    // sources accept and that matches the iteration (iteration x batch images taken). A bad field
    // is std::runtime_error "snapshot '<file>': field '<name>': expected ..., found ..." and
    // leaves the trainer, the net, the solver and the sources as they were.
    TrainState capture() const;
    void restore(const TrainState& s);

    // Runs opt.test_iter batches of the test source in the TEST phase.
    TestResult test();

    // Writes "<prefix>_iter_<iter>.weights" atomically; returns its path.
    std::string snapshot() const;

private:
    void log(const std::string& line) const;
    void restore_sources(const TrainState& s);
    double batch_accuracy() const;

    Net& net_;
    SGDSolver& solver_;
    BatchSource& train_;
    BatchSource* test_;
    TrainOptions opt_;
    std::function<void(const std::string&)> log_;
    std::string score_blob_;  // the classifier output (bottom 0 of the SoftmaxWithLoss layer)
};

// Name of the file a snapshot at iteration `iter` goes to.
std::string snapshot_path(const std::string& prefix, int iter);

// Whether a run with `opt` from iteration `start` to `max_iter` may write the snapshot of
// iteration `iter` (snapshot_path): every opt.snapshot iterations before max_iter, and at the end
// unless snapshot_after_train is off -- at max_iter, or at any iteration when a time limit
// (max_seconds) may end the run early. Lets a caller test a path against a run's snapshots
// without listing them.
bool may_write_snapshot(const TrainOptions& opt, int start, int max_iter, int iter);

}  // namespace dlbhc
