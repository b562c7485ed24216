// data/batcher.cpp -- batches, the prefetch thread, and the resumable state (see batcher.h).
#include "data/batcher.h"

#include <cstring>
#include <stdexcept>
#include <utility>

#include "io/xxhash64.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace dlbhc {

namespace {

// splitmix64's output function: a bijective 64-bit mixer.
uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The seed of epoch e's order: distinct from the augmentation generator's seed (seed itself).
uint64_t order_seed(uint64_t seed, uint64_t e) { return mix64(seed ^ mix64(e + 0x632BE59BD9B4E019ull)); }

void make_order(size_t n, bool shuffle, uint64_t seed, uint64_t e, std::vector<uint32_t>& order) {
    order.resize(n);
    for (size_t i = 0; i < n; ++i) order[i] = (uint32_t)i;
    if (!shuffle) return;
    // Fisher-Yates: for i = n-1 .. 1 swap order[i] with order[j], j uniform in 0..i.
    Rng rng(order_seed(seed, e));
    for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below((uint32_t)(i + 1))]);
}

std::string shape_str(int c, int h, int w) {
    return "(" + std::to_string(c) + ", " + std::to_string(h) + ", " + std::to_string(w) + ")";
}

constexpr char kStateMagic[8] = {'D', 'L', 'B', 'H', 'C', 'B', 'S', 'T'};
constexpr uint32_t kStateVersion = 1;
constexpr size_t kStateBytes = 96;

void put(std::string& s, const void* p, size_t n) { s.append(static_cast<const char*>(p), n); }
template <class T>
T get(const std::string& s, size_t off) {
    T v;
    std::memcpy(&v, s.data() + off, sizeof v);
    return v;
}

}  // namespace

// ---- BatcherState ------------------------------------------------------------------------------

bool BatcherState::operator==(const BatcherState& o) const {
    return epoch == o.epoch && position == o.position && std::memcmp(rng, o.rng, sizeof rng) == 0 && seed == o.seed &&
           dataset_size == o.dataset_size && batch_size == o.batch_size && shuffle == o.shuffle &&
           single_pass == o.single_pass;
}

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "BatcherState::to_bytes writes host integers as little-endian: port it for big-endian hosts"
#endif

bool BatcherState::items_taken(uint64_t* n) const {
    if (dataset_size != 0 && epoch > (~0ull - position) / dataset_size) return false;
    *n = epoch * dataset_size + position;
    return true;
}

std::string BatcherState::to_bytes() const {
    std::string s;
    put(s, kStateMagic, 8);
    put(s, &kStateVersion, 4);
    put(s, &batch_size, 4);
    for (uint64_t v : {dataset_size, seed, epoch, position, rng[0], rng[1], rng[2], rng[3]}) put(s, &v, 8);
    const uint8_t flags[8] = {(uint8_t)shuffle, (uint8_t)single_pass, 0, 0, 0, 0, 0, 0};
    put(s, flags, 8);
    const uint64_t sum = xxhash64(s.data(), s.size());
    put(s, &sum, 8);
    return s;
}

BatcherState BatcherState::from_bytes(const std::string& b, const std::string& what) {
    if (b.size() != kStateBytes)
        throw std::runtime_error(what + ": expected " + std::to_string(kStateBytes) + " bytes, found " +
                                 std::to_string(b.size()));
    if (std::memcmp(b.data(), kStateMagic, 8) != 0)
        throw std::runtime_error(what + ": expected the magic \"DLBHCBST\" at byte 0, found other bytes");
    const uint32_t version = get<uint32_t>(b, 8);
    if (version != kStateVersion)
        throw std::runtime_error(what + ": expected version " + std::to_string(kStateVersion) + " at byte 8, found " +
                                 std::to_string(version));
    const uint64_t want = get<uint64_t>(b, 88), got = xxhash64(b.data(), 88);
    if (want != got) throw std::runtime_error(what + ": checksum mismatch at byte 88 (corrupt state)");
    BatcherState s;
    s.batch_size = get<uint32_t>(b, 12);
    s.dataset_size = get<uint64_t>(b, 16);
    s.seed = get<uint64_t>(b, 24);
    s.epoch = get<uint64_t>(b, 32);
    s.position = get<uint64_t>(b, 40);
    for (int k = 0; k < 4; ++k) s.rng[k] = get<uint64_t>(b, 48 + 8 * k);
    const uint8_t sh = (uint8_t)b[80], sp = (uint8_t)b[81];
    if (sh > 1 || sp > 1) throw std::runtime_error(what + ": flag bytes at 80..81 must be 0 or 1");
    s.shuffle = sh, s.single_pass = sp;
    return s;
}

// ---- Batcher -----------------------------------------------------------------------------------

Batcher::Batcher(const Dataset& ds, const TransformParam& tp, const BatcherOptions& opt)
    : ds_(ds), tf_(tp), opt_(opt), size_(ds.size()) {
    if (opt.batch_size < 1)
        throw std::invalid_argument("batcher: expected batch_size >= 1, found " + std::to_string(opt.batch_size));
    if (size_ == 0) throw std::invalid_argument("batcher: the dataset is empty");
    if (size_ > 0xFFFFFFFFull)
        throw std::invalid_argument("batcher: at most 2^32 - 1 items, found " + std::to_string(size_));
    const int c = ds.channels(), h = ds.height(), w = ds.width();
    int oc, oh, ow;
    if (c > 0 && h > 0 && w > 0) {
        tf_.output_dims(c, h, w, oc, oh, ow);
    } else if (c > 0 && (tp.resize > 0 || tp.crop > 0)) {
        const int side = tp.resize > 0 ? tp.resize : tp.crop;
        tf_.output_dims(c, side, side, oc, oh, ow);
    } else {
        throw std::invalid_argument("batcher: the dataset's items differ in size " + shape_str(c, h, w) +
                                    "; set the transform's resize or crop so that batches have one size");
    }
    shape_ = Shape(opt.batch_size, oc, oh, ow);

    consumer_.seed = opt.seed;
    consumer_.dataset_size = size_;
    consumer_.batch_size = (uint32_t)opt.batch_size;
    consumer_.shuffle = opt.shuffle;
    consumer_.single_pass = opt.single_pass;
    Rng aug(opt.seed);
    std::memcpy(consumer_.rng, aug.s, sizeof aug.s);
    producer_ = consumer_;
}

Batcher::~Batcher() { stop_worker(); }

std::vector<uint32_t> Batcher::epoch_order(uint64_t e) const {
    std::vector<uint32_t> order;
    make_order(size_, opt_.shuffle, opt_.seed, e, order);
    return order;
}

const std::vector<uint32_t>& Batcher::order_for(uint64_t e) {
    if (!cached_valid_ || cached_epoch_ != e) {
        make_order(size_, opt_.shuffle, opt_.seed, e, cached_order_);
        cached_epoch_ = e;
        cached_valid_ = true;
    }
    return cached_order_;
}

void Batcher::produce(const BatcherState& in, Prepared& out) {
    const int n = opt_.batch_size;
    const size_t chw = shape_.chw();
    out.error = nullptr;
    out.data.resize((size_t)n * chw);
    out.labels.resize(n);

    // Which items, in order; and one augmentation seed per item, drawn in that order.
    BatcherState st = in;
    std::vector<size_t> idx;
    idx.reserve(n);
    while ((int)idx.size() < n) {
        if (st.position >= size_) {
            if (opt_.single_pass) break;
            ++st.epoch;
            st.position = 0;
        }
        idx.push_back(opt_.shuffle ? order_for(st.epoch)[st.position] : st.position);
        ++st.position;
    }
    const int valid = (int)idx.size();
    Rng aug;
    std::memcpy(aug.s, st.rng, sizeof aug.s);
    std::vector<uint64_t> seeds(valid);
    for (auto& s : seeds) s = aug.next_u64();
    std::memcpy(st.rng, aug.s, sizeof aug.s);

    // Decode and transform, one item per iteration; each writes only its own row.
    std::vector<std::exception_ptr> errors(valid);
#if defined(_OPENMP)
    const int threads = opt_.threads > 0 ? opt_.threads : omp_get_max_threads();
#endif
#pragma omp parallel num_threads(threads) if (threads > 1 && valid > 1)
    {
        Image img, scratch;
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < valid; ++k) {
            const size_t i = idx[k];
            try {
                ds_.item(i, img);
                int oc, oh, ow;
                tf_.output_dims(img.c, img.h, img.w, oc, oh, ow);
                if (oc != shape_.c || oh != shape_.h || ow != shape_.w)
                    throw std::runtime_error("transforms to " + shape_str(oc, oh, ow) + " but the batch holds " +
                                             shape_str(shape_.c, shape_.h, shape_.w) + " (item of " +
                                             shape_str(img.c, img.h, img.w) + ")");
                Rng r(seeds[k]);
                tf_.apply(img, r, out.data.data() + (size_t)k * chw, scratch);
                out.labels[k] = (float)ds_.label(i);
            } catch (const std::exception& e) {
                errors[k] = std::make_exception_ptr(
                    std::runtime_error("dataset item " + std::to_string(i) + ": " + e.what()));
            } catch (...) {
                errors[k] = std::current_exception();
            }
        }
    }
    for (auto& e : errors)  // the lowest item's error, whatever the thread timing
        if (e) std::rethrow_exception(e);
    for (int k = valid; k < n; ++k) {
        std::memset(out.data.data() + (size_t)k * chw, 0, chw * sizeof(float));
        out.labels[k] = -1.0f;
    }
    out.valid = valid;
    out.after = st;
}

int Batcher::deliver(Prepared& p, Tensor& data, Tensor& label) {
    if (data.shape() != shape_) data.reshape(shape_);
    if (label.shape() != Shape(shape_.n, 1, 1, 1)) label.reshape(Shape(shape_.n, 1, 1, 1));
    std::memcpy(data.data(), p.data.data(), p.data.size() * sizeof(float));
    std::memcpy(label.data(), p.labels.data(), p.labels.size() * sizeof(float));
    consumer_ = p.after;
    return p.valid;
}

int Batcher::next(Tensor& data, Tensor& label) {
    if (at_end(consumer_)) {
        if (data.shape() != shape_) data.reshape(shape_);
        if (label.shape() != Shape(shape_.n, 1, 1, 1)) label.reshape(Shape(shape_.n, 1, 1, 1));
        data.zero();
        label.fill(-1.0f);
        return 0;
    }
    if (!opt_.prefetch) {
        produce(consumer_, scratch_);  // an error leaves consumer_ as it was
        return deliver(scratch_, data, label);
    }
    if (!worker_.joinable()) start_worker();
    {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return ready_full_; });
        std::swap(scratch_, ready_);
        ready_full_ = false;
    }
    cv_.notify_all();
    if (scratch_.error) std::rethrow_exception(std::exchange(scratch_.error, nullptr));
    return deliver(scratch_, data, label);
}

void Batcher::start_worker() {
    producer_ = consumer_;
    stop_ = false;
    ready_full_ = false;
    worker_ = std::thread(&Batcher::worker_loop, this);
}

void Batcher::stop_worker() {
    {
        std::lock_guard<std::mutex> lk(m_);
        stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    stop_ = false;
    ready_full_ = false;
    ready_.error = nullptr;
}

void Batcher::worker_loop() {
    Prepared local;
    for (;;) {
        if (at_end(producer_)) {  // single pass done: nothing more to prepare
            std::unique_lock<std::mutex> lk(m_);
            cv_.wait(lk, [&] { return stop_; });
            return;
        }
        try {
            produce(producer_, local);
        } catch (...) {
            local.error = std::current_exception();
        }
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stop_ || !ready_full_; });
        if (stop_) return;
        std::swap(ready_, local);
        ready_full_ = true;
        if (!ready_.error) producer_ = ready_.after;  // after an error the same batch is retried
        lk.unlock();
        cv_.notify_all();
    }
}

void Batcher::restore(const BatcherState& s) {
    auto mismatch = [&](const char* field, const std::string& have, const std::string& got) {
        throw std::invalid_argument(std::string("batcher restore: the state is for ") + field + " " + got +
                                    ", this batcher has " + have);
    };
    if (s.dataset_size != size_)
        mismatch("a dataset of size", std::to_string(size_), std::to_string(s.dataset_size));
    if (s.batch_size != (uint32_t)opt_.batch_size)
        mismatch("batch size", std::to_string(opt_.batch_size), std::to_string(s.batch_size));
    if (s.shuffle != opt_.shuffle) mismatch("shuffle", opt_.shuffle ? "on" : "off", s.shuffle ? "on" : "off");
    if (s.single_pass != opt_.single_pass)
        mismatch("single pass", opt_.single_pass ? "on" : "off", s.single_pass ? "on" : "off");
    if (s.position > size_)
        throw std::invalid_argument("batcher restore: expected a position of at most " + std::to_string(size_) +
                                    " (the dataset size), found " + std::to_string(s.position));
    uint64_t taken = 0;
    if (!s.items_taken(&taken))
        throw std::invalid_argument("batcher restore: expected an epoch of at most " +
                                    std::to_string((~0ull - s.position) / size_) + " for a dataset of " +
                                    std::to_string(size_) + " items at position " + std::to_string(s.position) +
                                    ", found epoch " + std::to_string(s.epoch) + " (the item count overflows 64 bits)");
    if (opt_.single_pass && s.epoch != 0)
        throw std::invalid_argument("batcher restore: expected epoch 0 in single-pass mode, found epoch " +
                                    std::to_string(s.epoch));
    if ((s.rng[0] | s.rng[1] | s.rng[2] | s.rng[3]) == 0)
        throw std::invalid_argument("batcher restore: expected a nonzero augmentation generator state, found all zeros");
    stop_worker();
    opt_.seed = s.seed;
    cached_valid_ = false;
    consumer_ = producer_ = s;
}

void for_each_batch(const Dataset& ds, const TransformParam& tp, int batch_size,
                    const std::function<void(const Tensor&, const Tensor&, size_t, int)>& fn, bool prefetch) {
    BatcherOptions o;
    o.batch_size = batch_size;
    o.single_pass = true;
    o.prefetch = prefetch;
    // With prefetch the batch is prepared on the background thread while the net runs on all
    // cores: one thread for it, so two OpenMP teams do not fight over the cores.
    o.threads = prefetch ? 1 : 0;
    Batcher b(ds, tp, o);
    Tensor data, label;
    size_t first = 0;
    for (int v; (v = b.next(data, label)) > 0; first += (size_t)v) fn(data, label, first, v);
}

}  // namespace dlbhc
