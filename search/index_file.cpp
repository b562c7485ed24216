// search/index_file.cpp -- reading and writing the index format (see index_file.h and
// docs/formats.md, "Index files", for the byte layout).
#include "search/index_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>

#include "search/float16.h"
#include "search/provenance.h"
#include "io/xxhash64.h"
#include "io/byte_order.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the index format is little-endian and this code maps it directly: port the loads for big-endian hosts"
#endif

namespace dlbhc {

static const char kMagic[8] = {'D', 'L', 'B', 'H', 'C', 'I', 'D', 'X'};
static const size_t kAlign = 64;

// Header field offsets (bytes), as documented in docs/formats.md, "Index files".
enum : size_t {
    kOffMagic = 0, kOffVersion = 8, kOffHeaderBytes = 12, kOffCount = 16, kOffBits = 24, kOffWords = 28,
    kOffDim = 32, kOffFeatureType = 36, kOffCodes = 40, kOffLabels = 48, kOffNames = 56, kOffNameBytes = 64,
    kOffFeatures = 72, kOffFileBytes = 80, kOffSumCodes = 88, kOffSumLabels = 96, kOffSumNames = 104,
    kOffSumFeatures = 112, kOffSumHeader = 120
};

static void put32(unsigned char* h, size_t off, uint32_t v) { store_le32(h + off, v); }
static void put64(unsigned char* h, size_t off, uint64_t v) { store_le64(h + off, v); }
static uint32_t get32(const unsigned char* h, size_t off) { return load_le32(h + off); }
static uint64_t get64(const unsigned char* h, size_t off) { return load_le64(h + off); }

// Where every section goes, from the sizes alone; the reader recomputes it and insists on it.
// data_end: the end of the last of codes | labels | names | features; the provenance section
// (format version 2, optional) starts at the next 64-byte boundary and ends the file.
struct Layout {
    uint64_t codes, codes_bytes, labels, labels_bytes, names, names_section_bytes, features, features_bytes, data_end,
        provenance, provenance_bytes, file;
};

// Overflow-checked uint64 arithmetic: every step clears `ok` on wrap-around.
struct Checked {
    bool ok = true;
    uint64_t mul(uint64_t a, uint64_t b) {
        uint64_t r;
        ok &= !__builtin_mul_overflow(a, b, &r);
        return r;
    }
    uint64_t add(uint64_t a, uint64_t b) {
        uint64_t r;
        ok &= !__builtin_add_overflow(a, b, &r);
        return r;
    }
    uint64_t align_up(uint64_t x) { return add(x, kAlign - 1) / kAlign * kAlign; }
};

// The layout for N items of `words` words per code, `name_bytes` of name text, D-dimensional
// features of type t and `provenance_bytes` of provenance (0: no section). Returns false (L
// undefined) when a size or an offset does not fit in 64 bits, which only a damaged or crafted
// header can ask for.
static bool layout_for(uint64_t n, uint64_t words, uint64_t name_bytes, uint64_t dim, FeatureType t,
                       uint64_t provenance_bytes, Layout& L) {
    Checked c;
    L.codes = kIndexHeaderBytes;
    L.codes_bytes = c.mul(c.mul(n, words), 8);
    L.labels = c.align_up(c.add(L.codes, L.codes_bytes));
    L.labels_bytes = c.mul(n, 4);
    L.names = c.align_up(c.add(L.labels, L.labels_bytes));
    L.names_section_bytes = c.add(c.mul(c.add(n, 1), 8), name_bytes);
    const uint64_t end = c.add(L.names, L.names_section_bytes);
    L.features_bytes = t == FeatureType::None ? 0 : c.mul(c.mul(n, dim), feature_type_bytes(t));
    L.features = t == FeatureType::None ? 0 : c.align_up(end);
    L.data_end = t == FeatureType::None ? end : c.add(L.features, L.features_bytes);
    L.provenance_bytes = provenance_bytes;
    L.provenance = provenance_bytes ? c.align_up(L.data_end) : 0;
    L.file = provenance_bytes ? c.add(L.provenance, provenance_bytes) : L.data_end;
    return c.ok;
}

// Version 2: a file size beyond the end of the last section means a provenance section, from the
// next 64-byte boundary to the end of the file. Adds it to L; false when `file_size` cannot end a
// section of kMinProvenanceBytes .. kMaxProvenanceBytes there.
static bool provenance_extent(uint64_t file_size, Layout& L) {
    Checked c;
    const uint64_t at = c.align_up(L.data_end);
    if (!c.ok || file_size < at || file_size - at < kMinProvenanceBytes || file_size - at > kMaxProvenanceBytes)
        return false;
    L.provenance = at;
    L.provenance_bytes = file_size - at;
    L.file = file_size;
    return true;
}

static std::string hex64(uint64_t v);

// What a code with unused high bits set looks like, for the errors of the writer and the reader:
// "item 7: expected bits 48..63 of word 0 (unused by 48-bit codes) to be zero, found 0x...".
static std::string padding_error(const CodeView& c, size_t item) {
    return "item " + std::to_string(item) + ": expected bits " + std::to_string(c.bits % 64) + "..63 of word " +
           std::to_string(c.words - 1) + " (unused by " + std::to_string(c.bits) + "-bit codes) to be zero, found " +
           hex64(c.code(item)[c.words - 1]);
}

// The first of v[0..n) for which bad(v[i]), or n. A branch-free pass over each block keeps the
// scan of a large index about as fast as its checksum.
template <class T, class Bad>
static size_t first_bad(const T* v, size_t n, Bad bad) {
    const size_t block = 4096;
    for (size_t at = 0; at < n; at += block) {
        const size_t end = std::min(n, at + block);
        bool any = false;
        for (size_t i = at; i < end; ++i) any |= bad(v[i]);
        if (!any) continue;
        for (size_t i = at; i < end; ++i)
            if (bad(v[i])) return i;
    }
    return n;
}

// The first value of a mapped feature section (float32 or float16 bits) that is not finite (all
// exponent bits set: an infinity or a NaN), or n. Tested on the bits, as stored.
static size_t first_non_finite_feature(const void* data, size_t n, FeatureType t) {
    if (t == FeatureType::F16)
        return first_bad((const uint16_t*)data, n, [](uint16_t h) { return (h & 0x7c00u) == 0x7c00u; });
    return first_bad((const uint32_t*)data, n, [](uint32_t f) { return (f & 0x7f800000u) == 0x7f800000u; });
}

static std::string value_text(float v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", (double)v);
    return b;
}

// "item 17, feature 3 (of 500)" for element `at` of (N, dim) features.
static std::string feature_at(size_t at, int dim) {
    return "item " + std::to_string(at / (size_t)dim) + ", feature " + std::to_string(at % (size_t)dim) + " (of " +
           std::to_string(dim) + ")";
}

// ---------------------------------------------------------------------------------- writing

namespace {

// An exclusive flock on the index at `path`, held from before an update reads the old index
// until after its rename: concurrent updates of one index (appends, replacements) run one after
// the other, so none is lost. Updates rename a new file over the path, so a waiter may be granted
// the lock on an inode that the update before it has just replaced; it then opens the path again
// and locks the new file (the lock is valid only while the path still names the locked inode).
// No regular file at the path (nothing to append to yet) or no permission to open it: nothing is
// locked, and the update's own open reports the error, if any. Readers take no lock (they map a
// whole file, old or new). Advisory: only dlbhc's writers respect it. A symbolic link is locked as
// the file it names, which is the file the writer replaces (io/file_io.h output_target).
class IndexUpdateLock {
public:
    explicit IndexUpdateLock(const std::string& index_path) {
        const std::string path = output_target(index_path);
        for (;;) {
            // O_NONBLOCK: opening a FIFO at the path must not hang (only regular files are locked).
            fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
            if (fd_ < 0) return;
            struct stat held, now;
            if (::fstat(fd_, &held) != 0 || !S_ISREG(held.st_mode)) {
                ::close(fd_);
                fd_ = -1;
                return;
            }
            if (::flock(fd_, LOCK_EX) != 0) {
                const int err = errno;
                ::close(fd_);
                fd_ = -1;
                if (err == EINTR) continue;
                throw std::runtime_error("index file '" + index_path + "': expected to lock it for the update (flock), " +
                                         "found: " + std::strerror(err));
            }
            if (::stat(path.c_str(), &now) == 0 && held.st_dev == now.st_dev && held.st_ino == now.st_ino) return;
            ::close(fd_);  // replaced while we waited: lock the file the path names now
            fd_ = -1;
        }
    }
    ~IndexUpdateLock() {
        if (fd_ >= 0) ::close(fd_);  // releases the lock
    }
    IndexUpdateLock(const IndexUpdateLock&) = delete;
    IndexUpdateLock& operator=(const IndexUpdateLock&) = delete;

private:
    int fd_ = -1;
};

// Test-only hook (tests/apps/test_crash.cpp): DLBHC_TEST_APPEND_DELAY_MS=<ms> makes an append sleep
// between reading the old index and writing the new one, so that a concurrent update reliably
// falls into that window. Unset (always, outside tests), it costs one getenv.
void test_append_delay() {
    const char* ms = std::getenv("DLBHC_TEST_APPEND_DELAY_MS");
    if (!ms) return;
    const long v = std::strtol(ms, nullptr, 10);
    if (v > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(v, 60000L)));
}

// One section filled in item order at its place in the temporary file, while the other sections
// fill theirs: buffered, checksummed as it goes. Sections never overlap, so each may be written
// at its own pace; the padding between them is written at the end.
class SectionStream {
public:
    static constexpr size_t kBufferBytes = size_t(1) << 20;
    SectionStream(AtomicFileWriter& w, uint64_t at) : w_(w), at_(at) {}
    void put(const void* p, size_t n) {
        sum_.update(p, n);
        if (buf_.size() + n > kBufferBytes) flush();
        if (n >= kBufferBytes) {  // a large piece (a copy from a mapped index) goes straight out
            w_.write_at(at_, p, n);
            at_ += n;
            return;
        }
        buf_.insert(buf_.end(), (const char*)p, (const char*)p + n);
    }
    void flush() {
        if (buf_.empty()) return;
        w_.write_at(at_, buf_.data(), buf_.size());
        at_ += buf_.size();
        buf_.clear();
    }
    uint64_t checksum() const { return sum_.digest(); }

private:
    AtomicFileWriter& w_;
    uint64_t at_;
    XxHash64 sum_;
    std::vector<char> buf_;
};

// How many items of an index are copied at a time (and their mapped pages then let go): the
// features of a piece are 1 MiB at D = 256 float32, 2 MiB at the small net's 500.
constexpr size_t kCopyItems = 1024;

}  // namespace

// The writer's state. `lock` (null when the caller holds it: merge_indexes) is taken before the
// temporary file is made, as by every update.
struct IndexWriter::State {
    State(const std::string& p, std::unique_ptr<IndexUpdateLock> l, const IndexShape& s, FeatureType t,
          const Provenance* prov)
        : path(p), lock(std::move(l)), shape(s), ftype(s.feature_dim > 0 ? t : FeatureType::None),
          words(code_words(s.bits)),
          prov_bytes(prov && !prov->empty() ? encode_provenance(*prov, "index file '" + p + "': ") : ""),
          L(layout(p, s, ftype, prov_bytes.size())), w(p, "index file"), codes(w, L.codes), labels(w, L.labels),
          offsets(w, L.names), text(w, L.names + (s.n + 1) * 8), features(w, L.features) {}

    static Layout layout(const std::string& path, const IndexShape& s, FeatureType t, size_t prov_bytes) {
        if (s.n >= (uint64_t)UINT32_MAX)
            throw std::invalid_argument("index file '" + path + "': expected fewer than 2^32 items, found " +
                                        std::to_string(s.n));
        Layout L;
        if (!layout_for(s.n, (uint64_t)code_words(s.bits), s.name_bytes, t == FeatureType::None ? 0 : s.feature_dim, t,
                        prov_bytes, L))
            throw std::invalid_argument("index file '" + path + "': expected an index smaller than 2^64 bytes, found " +
                                        std::to_string(s.n) + " items of " + std::to_string(s.feature_dim) +
                                        "-d features and " + std::to_string(s.name_bytes) + " bytes of names");
        return L;
    }

    void put(const IndexItems& it);
    void put(const IndexFile& f);
    void commit();

    std::string path;
    std::unique_ptr<IndexUpdateLock> lock;
    IndexShape shape;
    FeatureType ftype;
    int words;
    std::string prov_bytes;
    Layout L;
    AtomicFileWriter w;
    SectionStream codes, labels, offsets, text, features;
    uint64_t done = 0, text_at = 0;  // items written, name text written
};

// Items written in place, in order (checked by the caller: IndexWriter::add, write_index).
void IndexWriter::State::put(const IndexItems& it) {
    const uint64_t n = it.codes.n;
    uint64_t name_bytes = 0;
    if (it.names)
        for (const auto& s : *it.names) name_bytes += s.size();
    if (n > shape.n - done || name_bytes > shape.name_bytes - text_at)
        throw std::logic_error("index writer: '" + path + "': more items or name bytes than announced (" +
                               std::to_string(shape.n) + " items, " + std::to_string(shape.name_bytes) + " bytes)");
    if (n) codes.put(it.codes.data, (size_t)(n * words * 8));
    if (it.labels) {
        labels.put(it.labels, (size_t)n * 4);
    } else {
        const std::vector<int32_t> unknown((size_t)n, -1);
        labels.put(unknown.data(), unknown.size() * 4);
    }
    for (uint64_t i = 0; i < n; ++i) {
        offsets.put(&text_at, 8);
        if (!it.names) continue;
        const std::string& s = (*it.names)[i];
        text.put(s.data(), s.size());
        text_at += s.size();
    }
    if (ftype == FeatureType::F32 && n) {
        features.put(it.features, (size_t)n * shape.feature_dim * 4);
    } else if (ftype == FeatureType::F16 && n) {  // converted row by row: no second copy of the batch
        std::vector<uint16_t> row((size_t)shape.feature_dim);
        for (uint64_t i = 0; i < n; ++i) {
            floats_to_halves(it.features + i * (size_t)shape.feature_dim, row.size(), row.data());
            features.put(row.data(), row.size() * 2);
        }
    }
    done += n;
}

// Every item of a mapped index (same code length, feature type and dimension), a piece at a
// time; each piece's pages are let go once copied, so a copy of a large index does not keep it
// resident. Name offsets move by the name text written before it.
void IndexWriter::State::put(const IndexFile& f) {
    if (f.size() > shape.n - done || f.name_bytes() > shape.name_bytes - text_at)
        throw std::logic_error("index writer: '" + path + "': more items or name bytes than announced");
    const size_t row = (size_t)shape.feature_dim * feature_type_bytes(ftype);
    std::vector<uint64_t> moved;
    for (size_t at = 0; at < f.size(); at += kCopyItems) {
        const size_t m = std::min(kCopyItems, f.size() - at);
        const uint64_t* c = f.codes().code(at);
        codes.put(c, m * words * 8);
        f.drop_resident(c, m * words * 8);
        labels.put(f.labels() + at, m * 4);
        f.drop_resident(f.labels() + at, m * 4);
        moved.assign(f.name_offsets() + at, f.name_offsets() + at + m);
        for (auto& o : moved) o += text_at;
        offsets.put(moved.data(), m * 8);
        f.drop_resident(f.name_offsets() + at, m * 8);
        if (ftype != FeatureType::None) {
            const char* p = (const char*)f.features().data + at * row;
            features.put(p, m * row);
            f.drop_resident(p, m * row);
        }
    }
    for (uint64_t at = 0; at < f.name_bytes(); at += SectionStream::kBufferBytes) {
        const size_t m = (size_t)std::min<uint64_t>(SectionStream::kBufferBytes, f.name_bytes() - at);
        text.put(f.name_text() + at, m);
        f.drop_resident(f.name_text() + at, m);
    }
    text_at += f.name_bytes();
    done += f.size();
}

namespace {

// The checksum of bytes [at, at + n) of what `w` wrote, read back a piece at a time.
uint64_t checksum_written(AtomicFileWriter& w, uint64_t at, uint64_t n) {
    XxHash64 sum;
    std::vector<char> piece(SectionStream::kBufferBytes);
    for (uint64_t done = 0; done < n;) {
        const size_t m = (size_t)std::min<uint64_t>(piece.size(), n - done);
        w.read_at(at + done, piece.data(), m);
        sum.update(piece.data(), m);
        done += m;
    }
    return sum.digest();
}

}  // namespace

// The last offset, the names' checksum (the offsets come before the text in the section, but
// were written beside it: read back), the provenance, the zero padding between the sections,
// then the header, and the atomic replace.
void IndexWriter::State::commit() {
    if (done != shape.n || text_at != shape.name_bytes)
        throw std::logic_error("index writer: '" + path + "': " + std::to_string(done) + " items and " +
                               std::to_string(text_at) + " bytes of names written, announced " +
                               std::to_string(shape.n) + " and " + std::to_string(shape.name_bytes));
    offsets.put(&text_at, 8);
    for (SectionStream* s : {&codes, &labels, &offsets, &text, &features}) s->flush();
    const uint64_t sums[4] = {codes.checksum(), labels.checksum(), checksum_written(w, L.names, L.names_section_bytes),
                              ftype == FeatureType::None ? 0 : features.checksum()};
    if (!prov_bytes.empty()) w.write_at(L.provenance, prov_bytes.data(), prov_bytes.size());
    static const char zeros[kAlign] = {};
    const uint64_t gaps[][2] = {{L.codes + L.codes_bytes, L.labels},
                                {L.labels + L.labels_bytes, L.names},
                                {L.names + L.names_section_bytes, ftype == FeatureType::None ? L.data_end : L.features},
                                {L.data_end, prov_bytes.empty() ? L.data_end : L.provenance}};
    for (const auto& g : gaps)
        if (g[1] > g[0]) w.write_at(g[0], zeros, (size_t)(g[1] - g[0]));
    unsigned char header[kIndexHeaderBytes] = {};
    std::memcpy(header + kOffMagic, kMagic, 8);
    put32(header, kOffVersion, kIndexVersion);
    put32(header, kOffHeaderBytes, (uint32_t)kIndexHeaderBytes);
    put64(header, kOffCount, shape.n);
    put32(header, kOffBits, (uint32_t)shape.bits);
    put32(header, kOffWords, (uint32_t)words);
    put32(header, kOffDim, ftype == FeatureType::None ? 0 : (uint32_t)shape.feature_dim);
    put32(header, kOffFeatureType, (uint32_t)ftype);
    put64(header, kOffCodes, L.codes);
    put64(header, kOffLabels, L.labels);
    put64(header, kOffNames, L.names);
    put64(header, kOffNameBytes, shape.name_bytes);
    put64(header, kOffFeatures, L.features);
    put64(header, kOffFileBytes, L.file);
    put64(header, kOffSumCodes, sums[0]);
    put64(header, kOffSumLabels, sums[1]);
    put64(header, kOffSumNames, sums[2]);
    put64(header, kOffSumFeatures, sums[3]);
    put64(header, kOffSumHeader, xxhash64(header, kOffSumHeader));
    w.write_at(0, header, sizeof header);
    w.commit();
}

namespace {

void check_items(const std::string& path, const IndexItems& it) {
    const std::string where = "index file '" + path + "': ";
    if (it.codes.n && !it.codes.data) throw std::invalid_argument(where + "expected code data, found none");
    if (it.codes.words != code_words(it.codes.bits))
        throw std::invalid_argument(where + "expected " + std::to_string(code_words(it.codes.bits)) +
                                    " words per " + std::to_string(it.codes.bits) + "-bit code, found " +
                                    std::to_string(it.codes.words));
    if (it.names && it.names->size() != it.codes.n)
        throw std::invalid_argument(where + "expected " + std::to_string(it.codes.n) + " names (one per code), found " +
                                    std::to_string(it.names->size()));
    if (it.features && it.feature_dim <= 0)
        throw std::invalid_argument(where + "expected a positive feature dimension, found " +
                                    std::to_string(it.feature_dim));
    if (!it.features && it.feature_dim > 0 && it.codes.n > 0)
        throw std::invalid_argument(where + "expected " + std::to_string(it.codes.n) + " rows of " +
                                    std::to_string(it.feature_dim) + "-d features, found none");
    // A NaN or an infinity makes every distance to the item NaN: it would silently drop out of
    // every fine search (the reader refuses such an index too).
    if (it.features) {
        const size_t count = it.codes.n * (size_t)it.feature_dim;
        const size_t bad = first_bad(it.features, count, [](float x) { return !std::isfinite(x); });
        if (bad < count)
            throw std::invalid_argument(where + feature_at(bad, it.feature_dim) + ": expected a finite value, found " +
                                        value_text(it.features[bad]));
    }
    // The reader refuses such codes (their distances can exceed B): never write one.
    const size_t dirty = first_code_with_padding(it.codes);
    if (dirty < it.codes.n) throw std::invalid_argument(where + padding_error(it.codes, dirty));
}

bool has_features(const IndexItems& it) { return it.features || it.feature_dim > 0; }

// Features stored as float16 must stay finite there: a float32 of magnitude kHalfOverflow or more
// would become an infinity (float16.h).
void check_half_range(const std::string& path, const IndexItems& it) {
    if (!it.features) return;
    const size_t count = it.codes.n * (size_t)it.feature_dim;
    const size_t bad = first_bad(it.features, count, [](float x) { return !(std::fabs(x) < kHalfOverflow); });
    if (bad < count)
        throw std::invalid_argument("index file '" + path + "': " + feature_at(bad, it.feature_dim) +
                                    ": expected a magnitude below " + value_text(kHalfOverflow) +
                                    " to store it as float16, found " + value_text(it.features[bad]) +
                                    " (store the features as float32)");
}

// The provenance of the concatenation of `files`: each input's in turn (combine_provenance; an
// input made with another net or weights than the first is refused, naming both); none when an
// input records none (what its items came from is unknown).
Provenance merged_provenance(const std::vector<IndexFile>& files) {
    Provenance all;
    for (const IndexFile& f : files) {
        if (!f.has_provenance()) return Provenance();
        if (&f == &files.front()) {
            all = f.provenance();
            continue;
        }
        try {
            all = combine_provenance(all, "'" + files.front().path() + "' (the first input)", f.provenance(),
                                     "'" + f.path() + "'");
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument("index file '" + f.path() + "': cannot merge it with '" + files.front().path() +
                                        "' (the first input): " + e.what());
        }
    }
    return all;
}

std::string feature_desc(const IndexFile& f) {
    return f.has_features() ? std::to_string(f.feature_dim()) + "-d " + feature_type_name(f.feature_type()) + " features"
                            : "no features";
}

// Throws when one file is given twice (any spelling, a link): its items would be merged twice.
// Sorted by (device, inode), so thousands of shards cost one stat each, not one per pair.
// Reports the earliest input that repeats an earlier one, and the first of those.
void refuse_repeated_inputs(const std::vector<std::string>& inputs) {
    struct Id {
        dev_t dev;
        ino_t ino;
        size_t at;
        bool operator<(const Id& o) const {
            return dev != o.dev ? dev < o.dev : ino != o.ino ? ino < o.ino : at < o.at;
        }
    };
    std::vector<Id> ids;
    ids.reserve(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        struct stat st;
        if (::stat(inputs[i].c_str(), &st) == 0) ids.push_back({st.st_dev, st.st_ino, i});
        // a missing input is reported when it is opened
    }
    std::sort(ids.begin(), ids.end());
    // In each run of one file, the first two entries are its first two occurrences.
    size_t first = 0, again = inputs.size();
    for (size_t g = 0; g < ids.size();) {
        size_t e = g + 1;
        while (e < ids.size() && ids[e].dev == ids[g].dev && ids[e].ino == ids[g].ino) ++e;
        if (e - g > 1 && ids[g + 1].at < again) first = ids[g].at, again = ids[g + 1].at;
        g = e;
    }
    if (again < inputs.size())
        throw std::invalid_argument("index file '" + inputs[again] + "': given twice (inputs " + std::to_string(first + 1) +
                                    " and " + std::to_string(again + 1) + "): its items would be merged twice");
}

// What `items` asks of an index: its count, code length, feature dimension and name bytes.
IndexShape shape_of(const IndexItems& it) {
    IndexShape s;
    s.n = it.codes.n;
    s.bits = it.codes.bits;
    s.feature_dim = has_features(it) ? it.feature_dim : 0;
    if (it.names)
        for (const auto& name : *it.names) s.name_bytes += name.size();
    return s;
}

}  // namespace

IndexWriter::IndexWriter(std::unique_ptr<State> s) : s_(std::move(s)) {}
IndexWriter::IndexWriter(IndexWriter&&) noexcept = default;
IndexWriter::~IndexWriter() = default;

IndexWriter::IndexWriter(const std::string& path, const IndexShape& shape, const IndexWriteOptions& opt,
                         const Provenance* provenance) {
    if (shape.bits < 1 || shape.bits > kMaxCodeBits || shape.feature_dim < 0)
        throw std::invalid_argument("index file '" + path + "': expected 1.." + std::to_string(kMaxCodeBits) +
                                    "-bit codes and a feature dimension >= 0, found " + std::to_string(shape.bits) +
                                    " bits and dimension " + std::to_string(shape.feature_dim));
    if (shape.feature_dim > 0 && opt.feature_storage == FeatureType::None)
        throw std::invalid_argument("index file '" + path + "': expected float32 or float16 feature storage, found none");
    auto lock = std::make_unique<IndexUpdateLock>(path);  // an append running now finishes first, and is not lost
    s_ = std::make_unique<State>(path, std::move(lock), shape, opt.feature_storage, provenance);
}

IndexWriter IndexWriter::append(const std::string& path, const IndexShape& more, const Provenance* provenance) {
    auto lock = std::make_unique<IndexUpdateLock>(path);  // held from reading the old index until the rename
    IndexFile old = IndexFile::open(path);                 // full verification: never copy damage forward
    const std::string where = "index file '" + path + "': cannot append: ";
    if (more.bits != old.bits())
        throw std::invalid_argument(where + "expected " + std::to_string(old.bits()) + "-bit codes (the index's), found " +
                                    std::to_string(more.bits) + "-bit codes");
    if (old.has_features() != (more.feature_dim > 0))
        throw std::invalid_argument(where + (old.has_features() ? "expected features (the index has them), found none"
                                                                : "expected no features (the index has none), found some"));
    if (old.has_features() && more.feature_dim != old.feature_dim())
        throw std::invalid_argument(where + "expected " + std::to_string(old.feature_dim()) +
                                    "-d features, found " + std::to_string(more.feature_dim) + "-d");
    // The result records where its items came from only when both parts say so; the net,
    // weights and preprocessing must be the index's (apps/provenance.h checks it before encoding,
    // this again under the lock, in case the index was replaced meanwhile).
    Provenance both;
    const bool known = old.has_provenance() && provenance && !provenance->empty();
    if (known) {
        try {
            both = combine_provenance(old.provenance(), "the index", *provenance, "the new items");
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(where + e.what());
        }
    }
    test_append_delay();
    IndexShape all = more;
    all.n = old.size() + more.n;
    all.name_bytes = old.name_bytes() + more.name_bytes;
    auto s = std::make_unique<State>(path, std::move(lock), all, old.feature_type(), known ? &both : nullptr);
    s->put(old);  // the old items first: the new ones follow them
    return IndexWriter(std::move(s));
}

void IndexWriter::add(const IndexItems& items) {
    const std::string& path = s_->path;
    check_items(path, items);
    const std::string where = "index file '" + path + "': ";
    if (items.codes.bits != s_->shape.bits)
        throw std::invalid_argument(where + "expected " + std::to_string(s_->shape.bits) + "-bit codes, found " +
                                    std::to_string(items.codes.bits) + "-bit codes");
    if (has_features(items) != (s_->ftype != FeatureType::None) ||
        (has_features(items) && items.feature_dim != s_->shape.feature_dim))
        throw std::invalid_argument(where + "expected " + std::to_string(s_->shape.feature_dim) +
                                    "-d features (0: none), found " +
                                    std::to_string(has_features(items) ? items.feature_dim : 0) + "-d");
    if (s_->ftype == FeatureType::F16) check_half_range(path, items);
    s_->put(items);
}

size_t IndexWriter::added() const { return (size_t)s_->done; }

void IndexWriter::commit() { s_->commit(); }

void write_index(const std::string& path, const IndexItems& items, const IndexWriteOptions& opt) {
    check_items(path, items);
    FeatureType t = has_features(items) ? opt.feature_storage : FeatureType::None;
    if (has_features(items) && t == FeatureType::None)
        throw std::invalid_argument("index file '" + path + "': expected float32 or float16 feature storage, found none");
    if (t == FeatureType::F16) check_half_range(path, items);
    IndexWriter w(path, shape_of(items), opt, items.provenance);
    w.add(items);
    w.commit();
}

void append_to_index(const std::string& path, const IndexItems& more) {
    check_items(path, more);
    IndexWriter w = IndexWriter::append(path, shape_of(more), more.provenance);
    w.add(more);
    w.commit();
}

size_t merge_indexes(const std::string& path, const std::vector<std::string>& inputs,
                     const std::function<void(size_t, size_t)>& progress) {
    if (inputs.empty()) throw std::invalid_argument("index file '" + path + "': expected at least one index to merge, found none");
    refuse_repeated_inputs(inputs);
    auto lock = std::make_unique<IndexUpdateLock>(path);  // taken before the inputs are read: `path` may be one of them
    std::vector<IndexFile> files;
    files.reserve(inputs.size());
    for (const auto& in : inputs) {
        files.push_back(IndexFile::open(in));  // full verification: never copy damage forward
        const IndexFile &first = files.front(), &f = files.back();
        const std::string where = "index file '" + in + "': cannot merge it with '" + first.path() + "' (the first input): ";
        if (f.bits() != first.bits())
            throw std::invalid_argument(where + "expected " + std::to_string(first.bits()) + "-bit codes, found " +
                                        std::to_string(f.bits()) + "-bit codes");
        if (f.feature_type() != first.feature_type() || f.feature_dim() != first.feature_dim())
            throw std::invalid_argument(where + "expected " + feature_desc(first) + ", found " + feature_desc(f));
    }
    const IndexFile& first = files.front();
    IndexShape all;
    all.bits = first.bits();
    all.feature_dim = first.feature_dim();
    for (const auto& f : files) all.n += f.size(), all.name_bytes += f.name_bytes();
    const Provenance prov = merged_provenance(files);
    IndexWriter::State s(path, nullptr, all, first.feature_type(), &prov);
    for (const auto& f : files) {
        s.put(f);
        if (progress) progress((size_t)s.done, (size_t)all.n);
    }
    s.commit();
    return (size_t)all.n;
}

// ---------------------------------------------------------------------------------- reading

static std::string hex64(uint64_t v) {
    char b[19];
    std::snprintf(b, sizeof b, "0x%016llx", (unsigned long long)v);
    return b;
}

static std::string hex8(unsigned v) {
    char b[5];
    std::snprintf(b, sizeof b, "0x%02x", v & 0xffu);
    return b;
}

static std::string printable(const unsigned char* p, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += (p[i] >= 32 && p[i] < 127) ? (char)p[i] : '?';
    return s;
}

namespace {

// The errors of one file: "index file 'x.idx': <msg>".
struct OpenError {
    std::string where;
    std::runtime_error operator()(const std::string& msg) const { return std::runtime_error(where + msg); }
};

// What the header says, its fields bounded (bits, W, type, D <= INT_MAX, N < 2^32; nothing is
// cast to a signed type before that).
struct IndexHeader {
    uint32_t version = 0, bits = 0, words = 0, dim = 0;
    uint64_t n = 0, name_bytes = 0;
    FeatureType type = FeatureType::None;
};

// The first step of open: the header of the mapped file p (`size` bytes): its size, magic,
// version, checksum and length, then its fields, each within its bounds.
IndexHeader read_header(const unsigned char* p, uint64_t size, const IndexOpenOptions& opt, const OpenError& bad) {
    if (size < kIndexHeaderBytes)
        throw bad("truncated: expected at least " + std::to_string(kIndexHeaderBytes) + " bytes (the header), found " +
                  std::to_string(size));
    if (std::memcmp(p, kMagic, 8) != 0)
        throw bad("expected the magic 'DLBHCIDX' (a dlbhc index), found '" + printable(p, 8) + "'");
    IndexHeader h;
    h.version = get32(p, kOffVersion);
    if (h.version < kIndexOldestVersion || h.version > kIndexVersion)
        throw bad("expected format version " + std::to_string(kIndexOldestVersion) + " to " +
                  std::to_string(kIndexVersion) + ", found version " + std::to_string(h.version) +
                  " (written by another release of dlbhc)");
    const uint64_t hsum = xxhash64(p, kOffSumHeader);
    if (hsum != get64(p, kOffSumHeader) && kVerifyChecksums)
        throw bad("header checksum mismatch: expected " + hex64(get64(p, kOffSumHeader)) + ", computed " +
                  hex64(hsum) + " (the header is damaged)");
    if (get32(p, kOffHeaderBytes) != kIndexHeaderBytes)
        throw bad("expected a " + std::to_string(kIndexHeaderBytes) + "-byte header, found " +
                  std::to_string(get32(p, kOffHeaderBytes)));
    h.n = get64(p, kOffCount);
    h.bits = get32(p, kOffBits), h.words = get32(p, kOffWords), h.dim = get32(p, kOffDim);
    const uint32_t tcode = get32(p, kOffFeatureType);
    h.name_bytes = get64(p, kOffNameBytes);
    if (h.bits < 1 || h.bits > (uint32_t)kMaxCodeBits || h.words != (uint32_t)code_words((int)h.bits))
        throw bad("expected 1..65535 bits with ceil(bits/64) words, found " + std::to_string(h.bits) + " bits and " +
                  std::to_string(h.words) + " words");
    if (tcode > 2 || (tcode == 0) != (h.dim == 0))
        throw bad("expected feature type 0 (none), 1 (float32) or 2 (float16) with a matching dimension, found type " +
                  std::to_string(tcode) + " and dimension " + std::to_string(h.dim));
    if (h.dim > (uint32_t)kMaxIndexFeatureDim)
        throw bad("header field 'D' (feature dimension): expected at most " + std::to_string(kMaxIndexFeatureDim) +
                  ", found " + std::to_string(h.dim));
    if (h.n >= (uint64_t)UINT32_MAX)
        throw bad("header field 'N' (item count): expected fewer than 2^32 items, found " + std::to_string(h.n));
    if (opt.expect_bits && (uint32_t)opt.expect_bits != h.bits)
        throw bad("expected " + std::to_string(opt.expect_bits) + "-bit codes, found " + std::to_string(h.bits) +
                  "-bit codes");
    h.type = (FeatureType)tcode;
    return h;
}

// The second step: the layout computed from the header's fields in uint64 with overflow checks;
// each offset and the file size in the header must equal the computed ones, and the real size
// must equal that. After this every section lies inside the file, in order, and no read of the
// last step (checksums, padding, name offsets) can leave the mapping.
Layout check_layout(const unsigned char* p, uint64_t size, const IndexHeader& h, const OpenError& bad) {
    const std::string from = "computed from N = " + std::to_string(h.n) + ", W = " + std::to_string(h.words) +
                             ", D = " + std::to_string(h.dim) + " " + feature_type_name(h.type) + ", name bytes = " +
                             std::to_string(h.name_bytes);
    // When the sizes do not add up, a count that this file cannot hold is the likely culprit:
    // name it rather than the offset it throws off. (A consistent header for a file that was
    // cut short is reported as truncated below instead.)
    auto blame_sizes = [&] {
        // Every item takes at least 20 bytes (an 8-byte code, a 4-byte label, an 8-byte name offset).
        const uint64_t max_items = (size - kIndexHeaderBytes) / 20;
        if (h.n > max_items)
            throw bad("header field 'N' (item count): expected at most " + std::to_string(max_items) +
                      " items in a file of " + std::to_string(size) + " bytes, found " + std::to_string(h.n));
        if (h.name_bytes > size)
            throw bad("header field 'name text bytes': expected at most " + std::to_string(size) +
                      " (the file size), found " + std::to_string(h.name_bytes));
    };
    Layout L;
    if (!layout_for(h.n, h.words, h.name_bytes, h.dim, h.type, 0, L)) {
        blame_sizes();
        throw bad("expected section sizes that fit in 64 bits, found an overflow (" + from + ")");
    }
    const uint64_t file_field = get64(p, kOffFileBytes);
    if (h.version >= 2 && file_field != L.data_end && !provenance_extent(file_field, L)) {
        blame_sizes();
        throw bad("header field 'file size': expected " + std::to_string(L.data_end) + " (" + from +
                  ", no provenance) or " + std::to_string(kMinProvenanceBytes) + " to " +
                  std::to_string(kMaxProvenanceBytes) + " bytes more than the next 64-byte boundary (a provenance "
                  "section there), found " + std::to_string(file_field) + " (the header is inconsistent)");
    }
    const struct {
        const char* field;
        size_t at;
        uint64_t want;
    } fields[] = {{"codes offset", kOffCodes, L.codes},
                  {"labels offset", kOffLabels, L.labels},
                  {"names offset", kOffNames, L.names},
                  {"features offset", kOffFeatures, L.features},
                  {"file size", kOffFileBytes, L.file}};
    for (const auto& fl : fields)
        if (get64(p, fl.at) != fl.want) {
            blame_sizes();
            throw bad(std::string("header field '") + fl.field + "': expected " + std::to_string(fl.want) + " (" + from +
                      "), found " + std::to_string(get64(p, fl.at)) + " (the header is inconsistent)");
        }
    const std::string prov_note =
        L.provenance_bytes ? ", then " + std::to_string(L.provenance_bytes) + " bytes of provenance at " +
                                 std::to_string(L.provenance) + ": header field 'file size'"
                           : "";
    if (size < L.file)
        throw bad("truncated: the header says " + std::to_string(L.file) + " bytes (" + from + prov_note +
                  "), the file has " + std::to_string(size));
    if (size > L.file)
        throw bad("expected " + std::to_string(L.file) + " bytes, found " + std::to_string(size) +
                  " (data after the last section)");
    return L;
}

// How much of a section open verifies before letting its pages go (verify_sections).
constexpr size_t kVerifyPieceBytes = size_t(1) << 22;

struct Section {
    const char* name;
    uint64_t off, bytes;
    size_t sum_at;  // where the header holds its checksum
};
using Sections = std::array<Section, 4>;  // codes, labels, names, features (0, 0: none)

Sections sections_of(const Layout& L) {
    return {{{"codes", L.codes, L.codes_bytes, kOffSumCodes},
             {"labels", L.labels, L.labels_bytes, kOffSumLabels},
             {"names", L.names, L.names_section_bytes, kOffSumNames},
             {"features", L.features, L.features_bytes, kOffSumFeatures}}};
}

// The part of the last step made at every verification level: the sections in order inside the
// file (guaranteed by check_layout; stated here so that no change to it can let a read below
// leave the mapping), and the first and last name offsets (two words) spanning exactly the
// header's name text size.
void check_section_bounds(const unsigned char* p, uint64_t size, const IndexHeader& h, const Layout& L,
                          const OpenError& bad) {
    uint64_t prev_end = kIndexHeaderBytes;
    for (const auto& s : sections_of(L)) {
        if (s.off == 0 && s.bytes == 0) continue;  // no features
        if (s.off < prev_end || s.off > size || s.bytes > size - s.off)
            throw bad(std::string("expected the ") + s.name + " section inside the file after the previous one, " +
                      "found " + std::to_string(s.bytes) + " bytes at offset " + std::to_string(s.off) +
                      " (previous section ends at " + std::to_string(prev_end) + ", file size " +
                      std::to_string(size) + ")");
        prev_end = s.off + s.bytes;
    }
    const uint64_t* name_off = (const uint64_t*)(p + L.names);
    if (name_off[0] != 0 || name_off[h.n] != h.name_bytes)
        throw bad("expected name offsets from 0 to " + std::to_string(h.name_bytes) + " (the name text bytes), found " +
                  std::to_string(name_off[0]) + " to " + std::to_string(name_off[h.n]));
}

// The rest of the last step, unless the open reads the header only: the section checksums
// (the features' unless SkipFeatures), zero padding between the sections (outside the checksums),
// and what a checksum cannot tell, since a buggy or crafted writer computes it over the bad values:
// the unused high bits of every code are zero (hash/code.h: the kernels popcount whole words, so a
// set bit there makes a distance above B, which every search would report wrong; one word per
// code, 0.3 ms for 1M 48-bit codes, under 1% of the Full open), and with Full every feature is
// finite (a NaN or an infinity makes every distance to the item NaN, which drops it from every fine
// search without a word; read with the checksum, so it costs little more).
// Each pass reads its section a piece at a time and lets the piece's pages go (`map`:
// MappedFile::drop_resident), so that opening a large index does not keep it resident.
void verify_sections(const MappedFile& map, const IndexHeader& h, const Layout& L, const IndexOpenOptions& opt,
                     const OpenError& bad) {
    const unsigned char* p = map.data();
    const Sections sections = sections_of(L);
    for (const auto& s : sections) {
        if (s.bytes == 0 && s.off == 0) continue;
        if (std::string(s.name) == "features" && opt.verify == IndexOpenOptions::Verify::SkipFeatures) continue;
        XxHash64 piecewise;
        for (uint64_t at = 0; at < s.bytes; at += kVerifyPieceBytes) {
            const size_t m = (size_t)std::min<uint64_t>(kVerifyPieceBytes, s.bytes - at);
            piecewise.update(p + s.off + at, m);
            map.drop_resident(p + s.off + at, m);
        }
        const uint64_t sum = piecewise.digest();
        if (sum != get64(p, s.sum_at) && kVerifyChecksums)
            throw bad(std::string("checksum mismatch in the ") + s.name + " section: expected " +
                      hex64(get64(p, s.sum_at)) + ", computed " + hex64(sum) + " (the file is damaged)");
    }
    for (int i = 0; i + 1 < 4; ++i) {
        const Section &a = sections[i], &b = sections[i + 1];
        if (b.off == 0 && b.bytes == 0) continue;
        for (uint64_t at = a.off + a.bytes; at < b.off; ++at)
            if (p[at] != 0)
                throw bad(std::string("expected zero padding between the ") + a.name + " and " + b.name +
                          " sections (bytes " + std::to_string(a.off + a.bytes) + ".." + std::to_string(b.off - 1) +
                          "), found " + hex8(p[at]) + " at byte " + std::to_string(at));
    }
    for (uint64_t at = L.data_end; at < L.provenance; ++at)
        if (p[at] != 0)
            throw bad("expected zero padding before the provenance section (bytes " + std::to_string(L.data_end) +
                      ".." + std::to_string(L.provenance - 1) + "), found " + hex8(p[at]) + " at byte " +
                      std::to_string(at));
    const CodeView codes{(const uint64_t*)(p + L.codes), (size_t)h.n, (int)h.bits, (int)h.words};
    const size_t piece_codes = std::max<size_t>(1, kVerifyPieceBytes / (8 * (size_t)h.words));
    for (size_t at = 0; at < codes.n; at += piece_codes) {
        const CodeView part{codes.code(at), std::min(piece_codes, codes.n - at), codes.bits, codes.words};
        const size_t dirty = first_code_with_padding(part);
        if (dirty < part.n) throw bad(padding_error(codes, at + dirty));
        map.drop_resident(part.data, part.n * 8 * (size_t)h.words);
    }
    if (h.type != FeatureType::None && opt.verify == IndexOpenOptions::Verify::Full) {
        const size_t count = (size_t)h.n * h.dim, width = feature_type_bytes(h.type), piece = kVerifyPieceBytes / width;
        size_t at = count;
        for (size_t from = 0; from < count && at == count; from += piece) {
            const size_t m = std::min(piece, count - from);
            const size_t bad_at = first_non_finite_feature(p + L.features + from * width, m, h.type);
            if (bad_at < m) at = from + bad_at;
            map.drop_resident(p + L.features + from * width, m * width);
        }
        if (at < count)
            throw bad(feature_at(at, (int)h.dim) + ": expected a finite " + feature_type_name(h.type) + " value, found " +
                      value_text(h.type == FeatureType::F16 ? half_to_float(((const uint16_t*)(p + L.features))[at])
                                                            : ((const float*)(p + L.features))[at]));
    }
}

// The name offsets of items 0..n (n + 1 words) never decrease. Their pages are let go as read.
void check_name_order(const MappedFile& map, const uint64_t* name_off, uint64_t n, const OpenError& bad) {
    for (uint64_t i = 0; i < n; ++i) {
        if (name_off[i] > name_off[i + 1])
            throw bad("expected non-decreasing name offsets, found a decrease at item " + std::to_string(i) + " (" +
                      std::to_string(name_off[i]) + " then " + std::to_string(name_off[i + 1]) + ")");
        if ((i + 1) % (kVerifyPieceBytes / 8) == 0) map.drop_resident(name_off + i + 1 - kVerifyPieceBytes / 8, kVerifyPieceBytes);
    }
}

}  // namespace

// Three steps, each trusting only what the one before it checked: the header (read_header), the
// layout its fields imply (check_layout), the sections (check_section_bounds, verify_sections).
IndexFile IndexFile::open(const std::string& path, const IndexOpenOptions& opt) {
    IndexFile f;
    f.path_ = path;
    const OpenError bad{"index file '" + path + "': "};
    f.map_ = MappedFile(path, "index file");
    const unsigned char* p = f.map_.data();
    const uint64_t size = f.map_.size();
    const IndexHeader h = read_header(p, size, opt, bad);
    const Layout L = check_layout(p, size, h, bad);
    check_section_bounds(p, size, h, L, bad);
    if (opt.verify != IndexOpenOptions::Verify::HeaderOnly) verify_sections(f.map_, h, L, opt, bad);

    f.n_ = (size_t)h.n;
    f.bits_ = (int)h.bits;
    f.words_ = (int)h.words;
    f.dim_ = (int)h.dim;
    f.ftype_ = h.type;
    f.codes_ = (const uint64_t*)(p + L.codes);
    f.labels_ = (const int32_t*)(p + L.labels);
    f.name_off_ = (const uint64_t*)(p + L.names);
    f.name_text_ = (const char*)(p + L.names + (h.n + 1) * 8);
    f.name_bytes_ = h.name_bytes;
    f.features_ = h.type == FeatureType::None ? nullptr : (const void*)(p + L.features);
    f.version_ = h.version;
    // Small (at most kMaxProvenanceBytes) and what the commands check nets against: read at
    // every verification level.
    if (L.provenance_bytes) f.provenance_ = decode_provenance(p + L.provenance, (size_t)L.provenance_bytes, bad.where);
    if (opt.verify != IndexOpenOptions::Verify::HeaderOnly) check_name_order(f.map_, f.name_off_, h.n, bad);
    return f;
}

std::string_view IndexFile::name(size_t i) const {
    if (i >= n_) throw std::out_of_range("index file '" + path_ + "': item " + std::to_string(i) + " of " + std::to_string(n_));
    uint64_t a = name_off_[i], b = name_off_[i + 1];
    if (a > b || b > name_bytes_)
        throw std::out_of_range("index file '" + path_ + "': damaged name offsets at item " + std::to_string(i));
    return std::string_view(name_text_ + a, (size_t)(b - a));
}

}  // namespace dlbhc
