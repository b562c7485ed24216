// formats/weights_file.cpp -- see weights_file.h and docs/formats.md, "Weights files and snapshots", for the format.
#include "formats/weights_file.h"

#include <climits>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <functional>
#include <set>
#include <stdexcept>

#include "nn/net.h"
#include "io/file_io.h"
#include "io/xxhash64.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the weights file stores float32 little-endian and is read with memcpy: little-endian hosts only"
#endif

namespace dlbhc {

static const char kMagic[8] = {'D', 'L', 'B', 'H', 'C', 'W', 'T', 'S'};

size_t NamedTensor::count() const {
    size_t n = 1;
    for (int64_t d : dims) n *= (size_t)d;
    return n;
}

bool dims_product(const std::vector<int64_t>& dims, uint64_t* count) {
    uint64_t n = 1;
    for (int64_t d : dims)
        if (d < 0) return false;
    for (int64_t d : dims)
        if (d == 0) {
            *count = 0;
            return true;
        }
    for (int64_t d : dims) {
        if (n > UINT64_MAX / (uint64_t)d) return false;
        n *= (uint64_t)d;
    }
    *count = n;
    return true;
}

static std::string dims_str(const std::vector<int64_t>& dims) {
    std::string s = "(";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + ")";
}

std::string NamedTensor::shape_str() const { return dims_str(dims); }

void check_finite(const NamedTensor& t, const std::string& where) {
    const float* v = t.data.data();
    const size_t n = t.data.size();
    for (size_t i = 0; i < n; ++i) {
        if (std::isfinite(v[i])) continue;
        const char* what = std::isnan(v[i]) ? "NaN" : v[i] > 0 ? "+inf" : "-inf";
        throw std::runtime_error(where + ": tensor '" + t.name + "' " + t.shape_str() + " holds " + what + " at element " +
                                 std::to_string(i) + " (of " + std::to_string(n) + "); expected finite values");
    }
}

Tensor to_tensor(const NamedTensor& t) {
    if (t.dims.size() > 4)
        throw std::invalid_argument("tensor '" + t.name + "': expected at most 4 dims for an (N, C, H, W) tensor, found " +
                                    t.shape_str());
    int d[4] = {1, 1, 1, 1};
    for (size_t i = 0; i < t.dims.size(); ++i) {
        if (t.dims[i] < 0 || t.dims[i] > INT_MAX)
            throw std::invalid_argument("tensor '" + t.name + "': dim " + std::to_string(i) + " of " + t.shape_str() +
                                        " is outside 0..INT_MAX");
        d[i] = (int)t.dims[i];
    }
    Tensor out(Shape(d[0], d[1], d[2], d[3]));
    if (t.data.size() != out.count())
        throw std::invalid_argument("tensor '" + t.name + "': shape " + t.shape_str() + " needs " +
                                    std::to_string(out.count()) + " values, found " + std::to_string(t.data.size()));
    if (!t.data.empty()) std::memcpy(out.data(), t.data.data(), t.data.size() * sizeof(float));
    return out;
}

NamedTensor from_tensor(const std::string& name, const Tensor& t) {
    NamedTensor r;
    r.name = name;
    const Shape& s = t.shape();
    r.dims = {s.n, s.c, s.h, s.w};
    while (r.dims.size() > 1 && r.dims.back() == 1) r.dims.pop_back();
    r.data.assign(t.data(), t.data() + t.count());
    return r;
}

const NamedTensor* WeightsFile::find(const std::string& name) const {
    for (const NamedTensor& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

const std::string* WeightsFile::meta(const std::string& key) const {
    for (const auto& kv : metadata)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

void WeightsFile::set_meta(const std::string& key, const std::string& value) {
    for (auto& kv : metadata)
        if (kv.first == key) {
            kv.second = value;
            return;
        }
    metadata.emplace_back(key, value);
}

const char* const kMetaNetName = "net.name";
const char* const kMetaNetHash = "net.hash";
const char* const kMetaNetFile = "net.file";

void set_trained_net(WeightsFile& w, const TrainedNet& net) {
    w.set_meta(kMetaNetName, net.name);
    w.set_meta(kMetaNetHash, net.hash);
    w.set_meta(kMetaNetFile, net.file);
}

TrainedNet trained_net(const WeightsFile& w) {
    TrainedNet n;
    if (const std::string* v = w.meta(kMetaNetName)) n.name = *v;
    if (const std::string* v = w.meta(kMetaNetHash)) n.hash = *v;
    if (const std::string* v = w.meta(kMetaNetFile)) n.file = *v;
    return n;
}

// ---- writing ------------------------------------------------------------------------------------

namespace {

void put32(std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s.push_back(char(v >> (8 * i)));
}
void put64(std::string& s, uint64_t v) {
    for (int i = 0; i < 8; ++i) s.push_back(char(v >> (8 * i)));
}
uint32_t get32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
    return v;
}
uint64_t get64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
}

// Checks what encode needs and returns the payload size.
uint64_t validate_for_write(const WeightsFile& w) {
    auto bad = [](const std::string& m) { return std::invalid_argument("weights file: cannot write: " + m); };
    if (w.tensors.size() > UINT32_MAX || w.metadata.size() > UINT32_MAX) throw bad("too many entries");
    uint64_t p = 0;
    std::set<std::string> keys;
    for (const auto& kv : w.metadata) {
        if (kv.first.empty() || kv.first.size() > kWeightsMaxNameBytes)
            throw bad("metadata key '" + kv.first + "': expected 1.." + std::to_string(kWeightsMaxNameBytes) + " bytes");
        if (!keys.insert(kv.first).second) throw bad("duplicate metadata key '" + kv.first + "'");
        p += 4 + kv.first.size() + 8 + kv.second.size();
    }
    std::set<std::string> names;
    for (const NamedTensor& t : w.tensors) {
        if (t.name.empty() || t.name.size() > kWeightsMaxNameBytes)
            throw bad("tensor name '" + t.name + "': expected 1.." + std::to_string(kWeightsMaxNameBytes) + " bytes");
        if (!names.insert(t.name).second) throw bad("duplicate tensor name '" + t.name + "'");
        if (t.dims.size() > kWeightsMaxDims)
            throw bad("tensor '" + t.name + "': expected at most " + std::to_string(kWeightsMaxDims) + " dims, found " +
                      std::to_string(t.dims.size()));
        for (int64_t d : t.dims)
            if (d < 0 || d > INT_MAX)
                throw bad("tensor '" + t.name + "': expected dims in 0..2147483647, found " + t.shape_str());
        if (t.count() != t.data.size())
            throw bad("tensor '" + t.name + "': shape " + t.shape_str() + " needs " + std::to_string(t.count()) +
                      " values, found " + std::to_string(t.data.size()));
        p += 4 + t.name.size() + 4 + 8 * t.dims.size() + 4 * (uint64_t)t.data.size();
    }
    return p;
}

std::string make_header(const WeightsFile& w, uint64_t payload) {
    std::string h(kMagic, 8);
    put32(h, kWeightsVersion);
    put32(h, (uint32_t)w.tensors.size());
    put32(h, (uint32_t)w.metadata.size());
    put32(h, 0);
    put64(h, payload);
    put64(h, xxhash64(h.data(), h.size()));
    return h;
}

// Emits the payload in pieces (small records as strings, tensor data straight from its vector).
void emit_payload(const WeightsFile& w, const std::function<void(const void*, size_t)>& out) {
    std::string rec;
    for (const auto& kv : w.metadata) {
        rec.clear();
        put32(rec, (uint32_t)kv.first.size());
        rec += kv.first;
        put64(rec, kv.second.size());
        out(rec.data(), rec.size());
        out(kv.second.data(), kv.second.size());
    }
    for (const NamedTensor& t : w.tensors) {
        rec.clear();
        put32(rec, (uint32_t)t.name.size());
        rec += t.name;
        put32(rec, (uint32_t)t.dims.size());
        for (int64_t d : t.dims) put64(rec, (uint64_t)d);
        out(rec.data(), rec.size());
        out(t.data.data(), t.data.size() * sizeof(float));
    }
}

}  // namespace

std::string encode_weights(const WeightsFile& w) {
    const uint64_t payload = validate_for_write(w);
    std::string s = make_header(w, payload);
    s.reserve(kWeightsHeaderBytes + payload + 8);
    emit_payload(w, [&](const void* p, size_t n) { s.append((const char*)p, n); });
    put64(s, xxhash64(s.data() + kWeightsHeaderBytes, payload));
    return s;
}

void write_weights(const std::string& path, const WeightsFile& w) {
    const uint64_t payload = validate_for_write(w);
    AtomicFileWriter out(path, "weights file");
    std::string header = make_header(w, payload);
    out.write(header.data(), header.size());
    XxHash64 sum;
    emit_payload(w, [&](const void* p, size_t n) {
        sum.update(p, n);
        out.write(p, n);
    });
    std::string trailer;
    put64(trailer, sum.digest());
    out.write(trailer.data(), trailer.size());
    out.commit();
}

// ---- reading ------------------------------------------------------------------------------------

bool has_weights_magic(const uint8_t* data, size_t size) { return size >= 8 && std::memcmp(data, kMagic, 8) == 0; }

namespace {

std::string hex64(uint64_t v) {
    char b[19];
    std::snprintf(b, sizeof b, "0x%016llx", (unsigned long long)v);
    return b;
}

std::string printable(const uint8_t* p, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        if (p[i] >= 32 && p[i] < 127) {
            s.push_back(char(p[i]));
        } else {
            char b[5];
            std::snprintf(b, sizeof b, "\\x%02x", p[i]);
            s += b;
        }
    }
    return s;
}

// A bounds-checked cursor over the payload; offsets in errors are from the start of the file.
struct Cursor {
    const uint8_t* p;
    size_t size, pos;
    const std::string& where;
    [[noreturn]] void fail(size_t at, const std::string& m) const {
        throw std::runtime_error(where + "byte " + std::to_string(at) + ": " + m);
    }
    void need(size_t n, const std::string& what) const {
        if (size - pos < n)
            fail(pos, "truncated " + what + ": expected " + std::to_string(n) + " bytes, found " +
                          std::to_string(size - pos) + " before the checksum");
    }
    uint32_t u32(const std::string& what) {
        need(4, what);
        pos += 4;
        return get32(p + pos - 4);
    }
    uint64_t u64(const std::string& what) {
        need(8, what);
        pos += 8;
        return get64(p + pos - 8);
    }
    std::string bytes(size_t n, const std::string& what) {
        need(n, what);
        pos += n;
        return std::string((const char*)p + pos - n, n);
    }
};

}  // namespace

namespace {

// The header and both checksums of a file of `size` bytes at data: magic, version, reserved
// bytes, payload size. Returns the tensor and metadata counts.
void check_weights_header(const uint8_t* data, size_t size, const std::string& where, uint32_t& ntensors,
                          uint32_t& nmeta) {
    auto bad = [&](const std::string& m) { return std::runtime_error(where + m); };
    if (size < 8 || std::memcmp(data, kMagic, 8) != 0)
        throw bad("expected the magic 'DLBHCWTS' (a dlbhc weights file), found '" +
                  printable(data, size < 8 ? size : 8) + "'" +
                  (size < 8 ? " (the file has only " + std::to_string(size) + " bytes)" : std::string()));
    if (size < kWeightsHeaderBytes + 8)
        throw bad("truncated: expected at least " + std::to_string(kWeightsHeaderBytes + 8) +
                  " bytes (header and checksum), found " + std::to_string(size));
    const uint32_t version = get32(data + 8);
    if (version != kWeightsVersion)
        throw bad("expected format version " + std::to_string(kWeightsVersion) + ", found " + std::to_string(version));
    const uint64_t hsum = xxhash64(data, 32);
    if (hsum != get64(data + 32) && kVerifyChecksums)
        throw bad("header checksum mismatch: stored " + hex64(get64(data + 32)) + ", computed " + hex64(hsum) +
                  " (the header is damaged)");
    ntensors = get32(data + 12), nmeta = get32(data + 16);
    const uint64_t payload = get64(data + 24);
    if (get32(data + 20) != 0) throw bad("header bytes 20..23 (reserved): expected 0, found " + std::to_string(get32(data + 20)));
    if (payload != size - kWeightsHeaderBytes - 8)
        throw bad("expected " + std::to_string(payload) + " payload bytes (so a file of " +
                  std::to_string(payload + kWeightsHeaderBytes + 8) + " bytes), found a file of " +
                  std::to_string(size) + " bytes (truncated or extended)");
    const uint64_t psum = xxhash64(data + kWeightsHeaderBytes, payload);
    if (psum != get64(data + size - 8) && kVerifyChecksums)
        throw bad("payload checksum mismatch: stored " + hex64(get64(data + size - 8)) + ", computed " + hex64(psum) +
                  " (the file is damaged)");
}

// Metadata entry i at the cursor: a key (1..kWeightsMaxNameBytes bytes, not in `seen`) and its value.
std::pair<std::string, std::string> read_metadata_entry(Cursor& c, uint32_t i, std::set<std::string>& seen) {
    const std::string what = "metadata entry " + std::to_string(i);
    const size_t at = c.pos;
    uint32_t klen = c.u32(what + " key length");
    if (klen == 0 || klen > kWeightsMaxNameBytes)
        c.fail(at, what + ": expected a key of 1.." + std::to_string(kWeightsMaxNameBytes) + " bytes, found " +
                       std::to_string(klen));
    std::string key = c.bytes(klen, what + " key");
    uint64_t vlen = c.u64(what + " value length");
    if (vlen > c.size - c.pos)
        c.fail(at, what + " ('" + key + "'): value of " + std::to_string(vlen) + " bytes goes beyond the payload (" +
                       std::to_string(c.size - c.pos) + " bytes left)");
    std::string value = c.bytes((size_t)vlen, what + " value");
    if (!seen.insert(key).second) c.fail(at, what + ": duplicate key '" + key + "'");
    return {std::move(key), std::move(value)};
}

// Tensor i at the cursor: its name (not in `seen`), dims and float32 values.
NamedTensor read_tensor(Cursor& c, uint32_t i, std::set<std::string>& seen) {
    const std::string what = "tensor " + std::to_string(i);
    const size_t at = c.pos;
    uint32_t nlen = c.u32(what + " name length");
    if (nlen == 0 || nlen > kWeightsMaxNameBytes)
        c.fail(at, what + ": expected a name of 1.." + std::to_string(kWeightsMaxNameBytes) + " bytes, found " +
                       std::to_string(nlen));
    NamedTensor t;
    t.name = c.bytes(nlen, what + " name");
    const std::string tw = what + " ('" + t.name + "')";
    const size_t ndim_at = c.pos;
    uint32_t ndim = c.u32(tw + " dim count");
    if (ndim > kWeightsMaxDims)
        c.fail(ndim_at, tw + ": expected at most " + std::to_string(kWeightsMaxDims) + " dims, found " +
                            std::to_string(ndim));
    // Bound the element count by the bytes left before multiplying further: no overflow, and
    // the allocation below is never larger than the file.
    const uint64_t left_values = (c.size - c.pos) / 4;
    uint64_t count = 1;
    for (uint32_t d = 0; d < ndim; ++d) {
        uint64_t dim = c.u64(tw + " dims");
        t.dims.push_back((int64_t)dim);
        // No tensor has a side above INT_MAX (nn::Tensor counts in int); refusing one here also
        // keeps a zero elsewhere in the shape from hiding an absurd dim.
        if (dim > (uint64_t)INT_MAX)
            c.fail(ndim_at, tw + ": dim " + std::to_string(d) + " is " + std::to_string(dim) +
                                ", expected 0..2147483647");
        if (dim != 0 && count > left_values / dim) count = left_values + 1;  // saturate
        else count *= dim;
    }
    if (count > (c.size - c.pos) / 4)
        c.fail(ndim_at, tw + ": shape " + t.shape_str() + " needs more float32 values than the " +
                            std::to_string((c.size - c.pos) / 4) + " left in the file");
    t.data.resize((size_t)count);
    if (count) std::memcpy(t.data.data(), c.p + c.pos, (size_t)count * 4);
    c.pos += (size_t)count * 4;
    if (!seen.insert(t.name).second) c.fail(at, tw + ": duplicate tensor name");
    return t;
}

}  // namespace

WeightsFile decode_weights(const uint8_t* data, size_t size, const std::string& file) {
    const std::string where = "weights file '" + file + "': ";
    uint32_t ntensors = 0, nmeta = 0;
    check_weights_header(data, size, where, ntensors, nmeta);
    WeightsFile w;
    w.source = file;
    Cursor c{data, size - 8, kWeightsHeaderBytes, where};
    std::set<std::string> seen;
    for (uint32_t i = 0; i < nmeta; ++i) w.metadata.push_back(read_metadata_entry(c, i, seen));
    seen.clear();
    for (uint32_t i = 0; i < ntensors; ++i) w.tensors.push_back(read_tensor(c, i, seen));
    if (c.pos != c.size)
        c.fail(c.pos, "expected the checksum after the last tensor, found " + std::to_string(c.size - c.pos) +
                          " more payload bytes");
    return w;
}

WeightsFile read_weights(const std::string& path) {
    MappedFile m(path, "weights file");
    return decode_weights(m.data(), m.size(), path);
}

// ---- nets ---------------------------------------------------------------------------------------

static std::vector<int64_t> squeeze(const std::vector<int64_t>& dims) {
    std::vector<int64_t> r;
    for (int64_t d : dims)
        if (d != 1) r.push_back(d);
    return r;
}

std::string recorded_net(const WeightsFile& w) {
    const std::string* name = w.meta("net.name");
    const std::string* file = w.meta("net.file");
    if (!name && !file) return "";
    std::string s = "net '" + (name ? *name : std::string("?")) + "'";
    if (file) s += " (" + *file + ")";
    return s;
}

WeightsLoadReport load_weights(Net& net, const WeightsFile& w) {
    WeightsLoadReport rep;
    std::vector<std::pair<Param*, const NamedTensor*>> plan;
    std::set<std::string> used;
    // Every parameter whose shape differs, one line each: a net and weights that do not belong
    // together usually differ in several layers, and the first alone does not show how.
    std::vector<std::string> differ;
    for (const auto& layer : net.layers()) {
        for (Param& p : layer->params()) {
            const NamedTensor* t = w.find(p.name);
            if (!t) {
                rep.missing.push_back(p.name);
                continue;
            }
            const Shape& s = p.value.shape();
            const std::vector<int64_t> want = {s.n, s.c, s.h, s.w};
            if (squeeze(t->dims) != squeeze(want) || t->data.size() != p.value.count()) {
                differ.push_back("layer '" + layer->name() + "' (" + layer->type() + "), parameter '" + p.name +
                                 "': the net expects shape " + s.str() + " (" + std::to_string(p.value.count()) +
                                 " values), the file has " + t->shape_str() + " (" + std::to_string(t->data.size()) +
                                 " values)");
                continue;
            }
            check_finite(*t, "weights file '" + w.source + "'");
            plan.emplace_back(&p, t);
            used.insert(p.name);
        }
    }
    if (differ.size() == 1 && recorded_net(w).empty())
        throw std::runtime_error("weights file '" + w.source + "': " + differ[0]);
    if (!differ.empty()) {
        std::string msg = "weights file '" + w.source + "' does not fit net '" + net.name() + "': " +
                          std::to_string(differ.size()) + " parameter" + (differ.size() == 1 ? "" : "s") +
                          " differ in shape";
        if (!recorded_net(w).empty()) msg += " (the file was written for " + recorded_net(w) + ")";
        for (const std::string& d : differ) msg += "\n  " + d;
        throw std::runtime_error(msg);
    }
    for (auto& pt : plan) {
        Param& p = *pt.first;
        const NamedTensor& t = *pt.second;
        if (!t.data.empty()) std::memcpy(p.value.data(), t.data.data(), t.data.size() * sizeof(float));
        rep.loaded.push_back(p.name);
        NamedTensor as_net = from_tensor(p.name, p.value);
        if (as_net.dims != t.dims) rep.reshaped.push_back(p.name + ": " + t.shape_str() + " -> " + p.value.shape().str());
    }
    for (const NamedTensor& t : w.tensors)
        if (!used.count(t.name)) rep.unused.push_back(t.name);
    return rep;
}

WeightsFile weights_from_net(Net& net) {
    WeightsFile w;
    w.source = "net '" + net.name() + "'";
    for (Param* p : net.params()) w.tensors.push_back(from_tensor(p->name, p->value));
    return w;
}

}  // namespace dlbhc
