// data/batcher.h -- batches of transformed images for training and encoding, prepared ahead on a
// background thread, repeatable bit for bit and resumable from a saved state.
//
// Order: item order of epoch e is 0..n-1 without shuffling; with shuffling it is a Fisher-Yates
// permutation drawn from Rng(mix(seed, e)) (a fresh, independent order per epoch that depends
// only on seed and e, so it can be rebuilt on resume). A batch takes the next N items of the
// order; in the default wrapping mode a batch may run over the end of an epoch into the next
// (as Caffe's data layers do); in single-pass mode the last batch is partial and then next()
// returns 0.
// Augmentation: the transform's random choices (data/transform.h) for each item come from an
// Rng seeded with one 64-bit draw of the batcher's augmentation generator, drawn in item order
// before the items are processed. Items are then decoded and transformed in parallel (OpenMP),
// each with its own generator, so the result does not depend on the thread count, on whether the
// background thread is used, or on timing.
// State: the position (epoch, index in its order) and the augmentation generator's four words
// after the last batch returned by next() (not after batches prepared ahead). restore() rewinds
// or advances to such a state; the batches that follow are identical to those an uninterrupted
// batcher would have produced. BatcherState::to_bytes() is its stable binary form for snapshots.
// Threads: with prefetch, a std::thread prepares the next batch (at most two ahead) while the
// caller uses the current one; an exception while preparing a batch (unreadable image, bad size)
// is re-thrown by the next() call that would have returned that batch, and that batch is retried
// by the following call. The destructor stops and joins the thread. A Batcher is used from one
// thread; the Dataset must outlive it.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/transform.h"
#include "nn/tensor.h"

namespace dlbhc {

struct BatcherOptions {
    int batch_size = 32;       // N
    bool shuffle = false;      // a new random order every epoch (training); off: dataset order
    uint64_t seed = 1;         // for the orders and the augmentation
    bool prefetch = true;      // prepare batches on a background thread
    bool single_pass = false;  // one pass, last batch partial (encoding); off: wrap around forever
    int threads = 0;           // OpenMP threads for one batch; 0 = omp_get_max_threads()
};

struct BatcherState {
    uint64_t epoch = 0;     // passes begun before the current one
    uint64_t position = 0;  // index in the current epoch's order of the next item
    uint64_t rng[4] = {0, 0, 0, 0};  // augmentation generator (Rng::s)
    // The configuration the state belongs to; restore() insists on the same values.
    uint64_t seed = 0, dataset_size = 0;
    uint32_t batch_size = 0;
    bool shuffle = false, single_pass = false;

    // Items taken since the start, over all epochs: epoch * dataset_size + position; false when
    // that does not fit in 64 bits (a state no batcher reaches).
    bool items_taken(uint64_t* n) const;

    bool operator==(const BatcherState& o) const;
    bool operator!=(const BatcherState& o) const { return !(*this == o); }

    // 96 bytes, little-endian: "DLBHCBST", u32 version (1), u32 batch_size, u64 dataset_size,
    // u64 seed, u64 epoch, u64 position, 4 x u64 rng, u8 shuffle, u8 single_pass, 6 zero bytes,
    // u64 XXH64 (seed 0) of the 88 bytes before it.
    std::string to_bytes() const;
    // Throws std::runtime_error starting with `what` for a wrong size, magic, version or checksum.
    static BatcherState from_bytes(const std::string& bytes, const std::string& what = "batcher state");
};

class Batcher {
public:
    // Output size: the transform's output for the dataset's fixed item size; for datasets whose
    // items differ in size the transform must set resize or crop. Throws std::invalid_argument
    // for batch_size < 1, an empty dataset, more than 2^32 - 1 items, or an undeterminable size.
    Batcher(const Dataset& ds, const TransformParam& tp, const BatcherOptions& opt);
    ~Batcher();
    Batcher(const Batcher&) = delete;
    Batcher& operator=(const Batcher&) = delete;

    // (N, C, H, W) of the data tensor next() fills.
    Shape data_shape() const { return shape_; }

    // Fills data (N, C, H, W) and label (N, 1, 1, 1) (reshaped when needed) with the next batch
    // and returns how many rows are valid: N, except in single-pass mode, where the last batch
    // may be partial (the remaining rows are zero with label -1) and every call after it returns 0.
    // Re-throws an error that occurred while preparing this batch (see the file comment).
    int next(Tensor& data, Tensor& label);

    // The state after the last batch next() returned (the initial state before any).
    BatcherState state() const { return consumer_; }
    // Continues from `s`. Throws std::invalid_argument, leaving the batcher as it was, when s
    // belongs to another dataset size, batch size, shuffle or single-pass setting, or holds what
    // no batcher reaches: a position beyond the dataset, an item count (epoch * size + position)
    // above 2^64 - 1, an epoch other than 0 in single-pass mode, an all-zero generator state.
    // The seed is taken from s.
    void restore(const BatcherState& s);

    // The item order of epoch e (a permutation of 0..n-1).
    std::vector<uint32_t> epoch_order(uint64_t e) const;

private:
    struct Prepared {
        std::vector<float> data, labels;
        int valid = 0;
        BatcherState after;
        std::exception_ptr error;
    };
    void produce(const BatcherState& in, Prepared& out);
    bool at_end(const BatcherState& s) const { return opt_.single_pass && s.position >= size_; }
    const std::vector<uint32_t>& order_for(uint64_t e);
    void start_worker();
    void stop_worker();
    void worker_loop();
    int deliver(Prepared& p, Tensor& data, Tensor& label);

    const Dataset& ds_;
    Transformer tf_;
    BatcherOptions opt_;
    size_t size_;
    Shape shape_;
    BatcherState consumer_;  // after the last batch returned

    // Producer side: used by the worker thread while it runs, by next() otherwise.
    BatcherState producer_;
    bool cached_valid_ = false;  // no sentinel epoch: every u64 is an epoch a state may hold
    uint64_t cached_epoch_ = 0;
    std::vector<uint32_t> cached_order_;
    Prepared scratch_;

    // Hand-over between the worker and next().
    std::thread worker_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false, ready_full_ = false;
    Prepared ready_;
};

// One pass over the whole dataset in dataset order, for encoding: calls
// fn(data, label, first, valid) for each batch of up to batch_size items, where rows 0..valid-1
// hold items first..first+valid-1 (the last batch is partial; its other rows are zero, label -1).
// The transform should be a Test-phase one (centre crop). Batches are prepared on a background
// thread while fn runs when prefetch is set.
void for_each_batch(const Dataset& ds, const TransformParam& tp, int batch_size,
                    const std::function<void(const Tensor& data, const Tensor& label, size_t first, int valid)>& fn,
                    bool prefetch = true);

}  // namespace dlbhc
