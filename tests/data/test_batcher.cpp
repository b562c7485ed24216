// tests/data/test_batcher.cpp -- batches: order and coverage, bit-identical results with and
// without the prefetch thread and for any thread count, resume from a saved state, single-pass
// encoding with a partial last batch, and errors raised on the worker thread.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "data/batcher.h"
#include "data/dataset.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::contains;

namespace {

// n items of (1, 6, 6): pixel 0 is the item's index (to identify it in a batch), the rest random.
MemoryDataset make_ds(int n, uint64_t seed = 3) {
    MemoryDataset ds(1, 6, 6, "t");
    Rng rng(seed);
    std::vector<uint8_t> px(36);
    for (int i = 0; i < n; ++i) {
        for (auto& p : px) p = (uint8_t)rng.below(256);
        px[0] = (uint8_t)i;
        ds.add(px.data(), i % 5);
    }
    return ds;
}

// A dataset that fails on one item (as an unreadable image would).
class FailingDataset : public Dataset {
public:
    FailingDataset(const MemoryDataset& inner, size_t bad) : in_(inner), bad_(bad) {}
    size_t size() const override { return in_.size(); }
    int num_classes() const override { return in_.num_classes(); }
    int channels() const override { return in_.channels(); }
    int height() const override { return in_.height(); }
    int width() const override { return in_.width(); }
    void item(size_t i, Image& out) const override {
        if (i == bad_) throw std::runtime_error("cannot read item " + std::to_string(i));
        in_.item(i, out);
    }
    int label(size_t i) const override { return in_.label(i); }
    std::string name(size_t i) const override { return in_.name(i); }

private:
    const MemoryDataset& in_;
    size_t bad_;
};

TransformParam train_tf() {
    TransformParam p;
    p.phase = Phase::Train;
    p.crop = 4;
    p.mirror = true;
    p.mean_values = {3};
    p.scale = 0.1f;
    return p;
}

struct Batch {
    std::vector<float> data, label;
    int valid;
    bool operator==(const Batch& o) const {
        return valid == o.valid && data.size() == o.data.size() &&
               std::memcmp(data.data(), o.data.data(), data.size() * sizeof(float)) == 0 && label == o.label;
    }
};

std::vector<Batch> take(Batcher& b, int n) {
    std::vector<Batch> out;
    Tensor d, l;
    for (int i = 0; i < n; ++i) {
        const int v = b.next(d, l);
        out.push_back({std::vector<float>(d.data(), d.data() + d.count()), std::vector<float>(l.data(), l.data() + l.count()), v});
    }
    return out;
}

// The item indices in a batch of untransformed items (pixel 0 holds the index).
std::vector<int> indices(const Batch& b, size_t chw) {
    std::vector<int> ix;
    for (int k = 0; k < b.valid; ++k) ix.push_back((int)b.data[k * chw]);
    return ix;
}

}  // namespace

TEST_CASE("data/batcher: the same batches with and without the prefetch thread, for any thread count") {
    const MemoryDataset ds = make_ds(23);
    BatcherOptions o;
    o.batch_size = 5;
    o.shuffle = true;
    o.seed = 9;
    o.prefetch = true;
    Batcher a(ds, train_tf(), o);
    o.prefetch = false;
    Batcher b(ds, train_tf(), o);
    o.threads = 1;
    Batcher c(ds, train_tf(), o);
    CHECK(a.data_shape() == Shape(5, 1, 4, 4));
    const std::vector<Batch> ba = take(a, 20), bb = take(b, 20), bc = take(c, 20);
    for (int i = 0; i < 20; ++i) {
        CAPTURE(i);
        CHECK(ba[i] == bb[i]);
        CHECK(ba[i] == bc[i]);
        CHECK(ba[i].valid == 5);
    }
    CHECK(a.state() == b.state());
    // A different seed gives different batches.
    o.seed = 10;
    Batcher d(ds, train_tf(), o);
    CHECK_FALSE(take(d, 1)[0] == ba[0]);
}

TEST_CASE("data/batcher: resume from a saved state continues bit-identically") {
    const MemoryDataset ds = make_ds(23);
    BatcherOptions o;
    o.batch_size = 5;
    o.shuffle = true;
    o.seed = 77;
    Batcher a(ds, train_tf(), o);
    take(a, 7);  // crosses an epoch boundary (35 items > 23)
    const std::string saved = a.state().to_bytes();
    CHECK(saved.size() == 96);
    const std::vector<Batch> rest = take(a, 5);

    for (bool prefetch : {true, false}) {
        BatcherOptions f = o;
        f.seed = 1;  // the seed comes from the state
        f.prefetch = prefetch;
        Batcher fresh(ds, train_tf(), f);
        take(fresh, 2);  // whatever it did before is discarded
        fresh.restore(BatcherState::from_bytes(saved));
        const std::vector<Batch> again = take(fresh, 5);
        for (int i = 0; i < 5; ++i) CHECK(again[i] == rest[i]);
    }
    // Going back in the same batcher, while its thread has prepared batches ahead.
    a.restore(BatcherState::from_bytes(saved));
    const std::vector<Batch> again = take(a, 5);
    for (int i = 0; i < 5; ++i) CHECK(again[i] == rest[i]);
    CHECK(a.state().epoch == 2);  // 12 batches of 5 = 60 items: the third pass has begun
    CHECK(a.state().position == 14);
}

TEST_CASE("data/batcher: every epoch visits every item once, in a new order when shuffling") {
    const MemoryDataset ds = make_ds(23);
    TransformParam id;  // no crop, no mean: pixel 0 survives as the index
    const size_t chw = 36;
    BatcherOptions o;
    o.batch_size = 5;
    o.shuffle = true;
    o.seed = 4;
    Batcher b(ds, id, o);
    std::vector<int> seen;
    for (const Batch& bt : take(b, 14)) {  // 70 items: epochs 0, 1 and 24 of epoch 2
        const std::vector<int> ix = indices(bt, chw);
        seen.insert(seen.end(), ix.begin(), ix.end());
        for (int k = 0; k < 5; ++k) CHECK(bt.label[k] == (float)(ix[k] % 5));
    }
    for (int e = 0; e < 3; ++e) {
        const std::vector<uint32_t> order = b.epoch_order(e);
        for (size_t i = 0; i < 23 && e * 23 + i < seen.size(); ++i) CHECK(seen[e * 23 + i] == (int)order[i]);
        std::vector<uint32_t> sorted = order;
        std::sort(sorted.begin(), sorted.end());
        for (uint32_t i = 0; i < 23; ++i) CHECK(sorted[i] == i);
    }
    CHECK(b.epoch_order(0) != b.epoch_order(1));

    o.shuffle = false;  // dataset order, wrapping around
    Batcher s(ds, id, o);
    std::vector<int> seq;
    for (const Batch& bt : take(s, 6)) {
        const std::vector<int> ix = indices(bt, chw);
        seq.insert(seq.end(), ix.begin(), ix.end());
    }
    for (int i = 0; i < 30; ++i) CHECK(seq[i] == i % 23);
}

TEST_CASE("data/batcher: single pass with a partial last batch, and for_each_batch") {
    const MemoryDataset ds = make_ds(23);
    TransformParam id;
    BatcherOptions o;
    o.batch_size = 5;
    o.single_pass = true;
    Batcher b(ds, id, o);
    const std::vector<Batch> bs = take(b, 7);
    std::vector<int> valid;
    for (const Batch& bt : bs) valid.push_back(bt.valid);
    CHECK(valid == std::vector<int>{5, 5, 5, 5, 3, 0, 0});
    CHECK(indices(bs[4], 36) == std::vector<int>{20, 21, 22});
    for (int k = 3; k < 5; ++k) {  // padding rows of the partial batch
        CHECK(bs[4].label[k] == -1.0f);
        for (int j = 0; j < 36; ++j) CHECK(bs[4].data[k * 36 + j] == 0.0f);
    }

    for (bool prefetch : {true, false}) {
        std::vector<size_t> firsts;
        std::vector<int> counts, items;
        for_each_batch(ds, id, 5, [&](const Tensor& data, const Tensor& label, size_t first, int v) {
            firsts.push_back(first);
            counts.push_back(v);
            for (int k = 0; k < v; ++k) {
                items.push_back((int)data.at(k, 0, 0, 0));
                CHECK(label[k] == (float)ds.label(first + k));
            }
        }, prefetch);
        CHECK(firsts == std::vector<size_t>{0, 5, 10, 15, 20});
        CHECK(counts == std::vector<int>{5, 5, 5, 5, 3});
        for (int i = 0; i < 23; ++i) CHECK(items.at(i) == i);
    }
}

TEST_CASE("data/batcher: an error on the worker thread reaches the caller, and the batch is retried") {
    const MemoryDataset inner = make_ds(12);
    const FailingDataset ds(inner, 7);
    for (bool prefetch : {true, false}) {
        CAPTURE(prefetch);
        BatcherOptions o;
        o.batch_size = 3;
        o.prefetch = prefetch;
        Batcher b(ds, TransformParam{}, o);
        Tensor d, l;
        CHECK(b.next(d, l) == 3);  // items 0..2
        CHECK(b.next(d, l) == 3);  // items 3..5
        const BatcherState before = b.state();
        CHECK_THROWS_WITH_AS(b.next(d, l), contains("dataset item 7: cannot read item 7"), std::runtime_error);
        CHECK(b.state() == before);  // the failed batch was not consumed
        CHECK_THROWS_WITH_AS(b.next(d, l), contains("dataset item 7"), std::runtime_error);
        // Skipping past the bad item by restoring a later position works.
        BatcherState s = b.state();
        s.position = 9;
        b.restore(s);
        CHECK(b.next(d, l) == 3);
        CHECK(d.at(0, 0, 0, 0) == 9.0f);
    }
}

TEST_CASE("data/batcher: state bytes are checked; restore refuses another configuration") {
    const MemoryDataset ds = make_ds(10);
    BatcherOptions o;
    o.batch_size = 4;
    o.shuffle = true;
    Batcher b(ds, train_tf(), o);
    take(b, 3);
    const BatcherState st = b.state();
    const std::string bytes = st.to_bytes();
    CHECK(BatcherState::from_bytes(bytes) == st);

    std::string bad = bytes;
    bad[40] ^= 1;  // position
    CHECK_THROWS_WITH_AS(BatcherState::from_bytes(bad, "snapshot 'x'"), contains("snapshot 'x': checksum mismatch at byte 88"), std::runtime_error);
    CHECK_THROWS_WITH_AS(BatcherState::from_bytes(bytes.substr(0, 95)), contains("expected 96 bytes, found 95"), std::runtime_error);
    bad = bytes;
    bad[0] = 'X';
    CHECK_THROWS_WITH_AS(BatcherState::from_bytes(bad), contains("expected the magic \"DLBHCBST\""), std::runtime_error);
    bad = bytes;
    bad[8] = 2;
    CHECK_THROWS_WITH_AS(BatcherState::from_bytes(bad), contains("expected version 1 at byte 8, found 2"), std::runtime_error);

    o.batch_size = 5;
    Batcher other(ds, train_tf(), o);
    CHECK_THROWS_WITH_AS(other.restore(st), contains("the state is for batch size 4, this batcher has 5"), std::invalid_argument);
    const MemoryDataset ds11 = make_ds(11);
    o.batch_size = 4;
    Batcher bigger(ds11, train_tf(), o);
    CHECK_THROWS_WITH_AS(bigger.restore(st), contains("a dataset of size 10, this batcher has 11"), std::invalid_argument);
    o.shuffle = false;
    Batcher plain(ds, train_tf(), o);
    CHECK_THROWS_WITH_AS(plain.restore(st), contains("shuffle on, this batcher has off"), std::invalid_argument);
}

TEST_CASE("data/batcher: bad configurations") {
    const MemoryDataset ds = make_ds(4);
    BatcherOptions o;
    o.batch_size = 0;
    CHECK_THROWS_WITH_AS(Batcher(ds, TransformParam{}, o), contains("expected batch_size >= 1, found 0"), std::invalid_argument);
    const MemoryDataset empty(1, 2, 2, "e");
    o.batch_size = 2;
    CHECK_THROWS_WITH_AS(Batcher(empty, TransformParam{}, o), contains("the dataset is empty"), std::invalid_argument);
    TransformParam big;
    big.crop = 8;  // larger than the 6 x 6 items
    CHECK_THROWS_WITH_AS(Batcher(ds, big, o), contains("smaller than the crop 8"), std::invalid_argument);
    // Destroying a batcher whose thread is running (and has batches ready) returns promptly.
    {
        Batcher b(ds, TransformParam{}, o);
        Tensor d, l;
        b.next(d, l);
    }
}

TEST_CASE("data/batcher: restore accepts every epoch a state may hold and refuses states no batcher reaches") {
    // Epoch 2^64 - 1 once equalled the "no order cached" sentinel: the empty cached order was
    // indexed and `dlbhc train --resume` crashed. With one item the item count still fits 64 bits.
    const MemoryDataset one = make_ds(1);
    for (bool prefetch : {false, true}) {
        BatcherOptions o;
        o.batch_size = 1;
        o.shuffle = true;
        o.prefetch = prefetch;
        Batcher b(one, train_tf(), o);
        BatcherState s = b.state();
        s.epoch = ~0ull;
        b.restore(s);
        Tensor d, l;
        CHECK(b.next(d, l) == 1);
        CHECK(b.state().epoch == ~0ull);
        CHECK(b.state().position == 1);
    }

    const MemoryDataset ds = make_ds(10);
    BatcherOptions o;
    o.batch_size = 4;
    o.shuffle = true;
    Batcher b(ds, train_tf(), o);
    take(b, 2);
    const BatcherState good = b.state();
    BatcherState s = good;
    s.epoch = ~0ull;  // 10 items per epoch: the item count overflows
    CHECK_THROWS_WITH_AS(b.restore(s), contains("expected an epoch of at most 1844674407370955160 for a dataset of 10 items at position 8, "
                                                "found epoch 18446744073709551615"),
                         std::invalid_argument);
    s = good;
    s.position = 11;
    CHECK_THROWS_WITH_AS(b.restore(s), contains("expected a position of at most 10 (the dataset size), found 11"), std::invalid_argument);
    s = good;
    std::memset(s.rng, 0, sizeof s.rng);
    CHECK_THROWS_WITH_AS(b.restore(s), contains("expected a nonzero augmentation generator state, found all zeros"),
                         std::invalid_argument);
    CHECK(b.state() == good);  // every refusal left the batcher as it was
    o.shuffle = false;
    o.single_pass = true;
    Batcher once(ds, train_tf(), o);
    s = once.state();
    s.epoch = 1;
    CHECK_THROWS_WITH_AS(once.restore(s), contains("expected epoch 0 in single-pass mode, found epoch 1"), std::invalid_argument);
}
