// search/provenance.cpp -- see provenance.h and docs/formats.md, "Provenance".
#include "search/provenance.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "io/byte_order.h"
#include "io/xxhash64.h"

namespace dlbhc {

namespace {

const char kMagic[8] = {'D', 'L', 'B', 'H', 'C', 'P', 'R', 'V'};
const char* const kDataPrefix = "data.";

bool valid_key(const std::string& k) {
    if (k.empty() || k.size() > kMaxProvenanceKeyBytes) return false;
    for (char c : k)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_')) return false;
    return true;
}

bool is_data_key(const std::string& k) { return k.compare(0, std::strlen(kDataPrefix), kDataPrefix) == 0; }

std::string hex(uint64_t v) {
    char b[19];
    std::snprintf(b, sizeof b, "0x%016llx", (unsigned long long)v);
    return b;
}

// Text for an error message: at most 80 bytes, control bytes as '?'.
std::string shown(const std::string& s) {
    std::string o;
    for (size_t i = 0; i < s.size() && i < 80; ++i) o += (unsigned char)s[i] < 32 || s[i] == 127 ? '?' : s[i];
    return s.size() > 80 ? o + "..." : o;
}

// A decimal number without sign or leading zeros that fits in 64 bits.
bool parse_u64(const std::string& s, uint64_t& v) {
    if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
    v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        const uint64_t d = uint64_t(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    return true;
}

// "a, b, c" -> {a, b, c}.
std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> v;
    for (size_t at = 0;;) {
        const size_t comma = s.find(", ", at);
        v.push_back(s.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (comma == std::string::npos) return v;
        at = comma + 2;
    }
}

std::vector<std::pair<std::string, std::string>> entries_of(const Provenance& p) {
    std::vector<std::pair<std::string, std::string>> e = p.fields;
    for (size_t i = 0; i < p.sources.size(); ++i) {
        const std::string k = kDataPrefix + std::to_string(i) + ".";
        e.emplace_back(k + "source", p.sources[i].source);
        e.emplace_back(k + "items", std::to_string(p.sources[i].items));
        if (!p.sources[i].root.empty()) e.emplace_back(k + "root", p.sources[i].root);
    }
    return e;
}

// The data.<i>.<what> entries, gathered by i; turned into sources once every entry is read.
class SourceCollector {
public:
    explicit SourceCollector(const std::string& where) : where_(where) {}
    void add(const std::string& key, const std::string& value) {
        const size_t dot = key.find('.', std::strlen(kDataPrefix));
        uint64_t i = 0;
        const std::string what = dot == std::string::npos ? "" : key.substr(dot + 1);
        if (dot == std::string::npos || !parse_u64(key.substr(5, dot - 5), i) || i >= kMaxProvenanceBytes ||
            (what != "source" && what != "items" && what != "root"))
            throw std::runtime_error(where_ + "expected data source keys data.<i>.source, data.<i>.items or "
                                              "data.<i>.root, found '" + shown(key) + "'");
        Partial& p = found_[i];
        if (what == "source") p.s.source = value, p.has_source = true;
        if (what == "root") p.s.root = value;
        if (what == "items") {
            if (!parse_u64(value, p.s.items))
                throw std::runtime_error(where_ + "key '" + key + "': expected an item count, found '" + shown(value) + "'");
            p.has_items = true;
        }
    }
    std::vector<DataSource> sources() const {
        std::vector<DataSource> v;
        for (const auto& kv : found_) {
            if (kv.first != v.size())
                throw std::runtime_error(where_ + "expected data sources numbered from 0 without gaps, found data." +
                                         std::to_string(kv.first) + " after " + std::to_string(v.size()) + " sources");
            if (!kv.second.has_source || !kv.second.has_items)
                throw std::runtime_error(where_ + "data source " + std::to_string(kv.first) + ": expected both data." +
                                         std::to_string(kv.first) + ".source and data." + std::to_string(kv.first) +
                                         ".items, found " + (kv.second.has_source ? "no item count" : "no source"));
            v.push_back(kv.second.s);
        }
        return v;
    }

private:
    struct Partial {
        DataSource s;
        bool has_source = false, has_items = false;
    };
    std::string where_;
    std::map<uint64_t, Partial> found_;
};

}  // namespace

const std::string* Provenance::get(const std::string& key) const {
    for (const auto& kv : fields)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

void Provenance::set(const std::string& key, const std::string& value) {
    for (auto& kv : fields)
        if (kv.first == key) {
            kv.second = value;
            return;
        }
    fields.emplace_back(key, value);
}

void Provenance::add_source(const DataSource& s) {
    for (const auto& x : sources)
        if (x == s) return;
    sources.push_back(s);
}

std::string encode_provenance(const Provenance& p, const std::string& where) {
    const auto entries = entries_of(p);
    std::string out(kMagic, 8);
    unsigned char word[8];
    store_le32(word, (uint32_t)entries.size());
    store_le32(word + 4, 0);
    out.append((const char*)word, 8);
    for (const auto& kv : p.fields)
        if (is_data_key(kv.first))
            throw std::invalid_argument(where + "provenance key '" + shown(kv.first) + "': data.* keys hold the data "
                                        "sources only");
    std::set<std::string> seen;
    for (const auto& kv : entries) {
        if (!valid_key(kv.first))
            throw std::invalid_argument(where + "provenance key '" + shown(kv.first) + "': expected 1 to " +
                                        std::to_string(kMaxProvenanceKeyBytes) + " bytes of a-z, 0-9, '.', '_'");
        if (!seen.insert(kv.first).second)
            throw std::invalid_argument(where + "provenance key '" + kv.first + "' given twice");
        if (kv.second.size() > kMaxProvenanceValueBytes)
            throw std::invalid_argument(where + "provenance key '" + kv.first + "': expected a value of at most " +
                                        std::to_string(kMaxProvenanceValueBytes) + " bytes, found " +
                                        std::to_string(kv.second.size()));
        store_le32(word, (uint32_t)kv.first.size());
        out.append((const char*)word, 4);
        out += kv.first;
        store_le32(word, (uint32_t)kv.second.size());
        out.append((const char*)word, 4);
        out += kv.second;
        if (out.size() + 8 > kMaxProvenanceBytes)
            throw std::invalid_argument(where + "expected a provenance of at most " + std::to_string(kMaxProvenanceBytes) +
                                        " bytes, found more (" + std::to_string(p.sources.size()) +
                                        " data sources): merge fewer indexes of different data");
    }
    store_le64(word, xxhash64(out.data(), out.size()));
    out.append((const char*)word, 8);
    return out;
}

Provenance decode_provenance(const unsigned char* p, size_t n, const std::string& where_in) {
    const std::string where = where_in + "provenance section: ";
    if (n < kMinProvenanceBytes || n > kMaxProvenanceBytes)
        throw std::runtime_error(where + "expected " + std::to_string(kMinProvenanceBytes) + " to " +
                                 std::to_string(kMaxProvenanceBytes) + " bytes, found " + std::to_string(n));
    if (std::memcmp(p, kMagic, 8) != 0) throw std::runtime_error(where + "expected the magic 'DLBHCPRV'");
    const uint64_t stored = load_le64(p + n - 8), computed = xxhash64(p, n - 8);
    if (stored != computed && kVerifyChecksums)
        throw std::runtime_error(where + "checksum mismatch: expected " + hex(stored) + ", computed " + hex(computed) +
                                 " (the file is damaged)");
    const uint32_t count = load_le32(p + 8);
    if (load_le32(p + 12) != 0)
        throw std::runtime_error(where + "expected the reserved field (bytes 12..15) to be 0, found " +
                                 std::to_string(load_le32(p + 12)));
    const size_t end = n - 8;
    // Each entry takes at least 9 bytes (two lengths and a 1-byte key): bounds the count first.
    if (count > (end - 16) / 9)
        throw std::runtime_error(where + "expected at most " + std::to_string((end - 16) / 9) + " entries in " +
                                 std::to_string(n) + " bytes, found a count of " + std::to_string(count));
    size_t at = 16;
    auto length = [&](size_t limit, const char* what, uint32_t entry) {
        if (end - at < 4)
            throw std::runtime_error(where + "entry " + std::to_string(entry) + ": truncated " + what + " length at byte " +
                                     std::to_string(at));
        const uint32_t len = load_le32(p + at);
        at += 4;
        if (len > limit || len > end - at)
            throw std::runtime_error(where + "entry " + std::to_string(entry) + ": expected a " + what + " of at most " +
                                     std::to_string(std::min(limit, end - at)) + " bytes at byte " + std::to_string(at) +
                                     ", found a length of " + std::to_string(len));
        return (size_t)len;
    };
    Provenance prov;
    std::set<std::string> seen;
    SourceCollector sources(where);
    for (uint32_t e = 0; e < count; ++e) {
        const size_t klen = length(kMaxProvenanceKeyBytes, "key", e);
        const std::string key((const char*)p + at, klen);
        at += klen;
        if (!valid_key(key))
            throw std::runtime_error(where + "entry " + std::to_string(e) + ": expected a key of a-z, 0-9, '.', '_', found '" +
                                     shown(key) + "'");
        if (!seen.insert(key).second) throw std::runtime_error(where + "key '" + key + "' appears twice");
        const size_t vlen = length(kMaxProvenanceValueBytes, "value", e);
        const std::string value((const char*)p + at, vlen);
        at += vlen;
        if (is_data_key(key)) sources.add(key, value);
        else prov.fields.emplace_back(key, value);
    }
    if (at != end)
        throw std::runtime_error(where + "expected the checksum right after the " + std::to_string(count) +
                                 " entries (byte " + std::to_string(at) + "), found " + std::to_string(end - at) +
                                 " more bytes");
    prov.sources = sources.sources();
    return prov;
}

bool provenance_key_compared(const std::string& key) {
    namespace k = provenance_key;
    for (const char* info : {k::kVersion, k::kNetName, k::kWeightsFile, k::kMeanFile})
        if (key == info) return false;
    return !is_data_key(key);
}

std::vector<ProvenanceDifference> provenance_differences(const Provenance& a, const Provenance& b, bool keys_of_b_only) {
    std::vector<ProvenanceDifference> d;
    auto check = [&](const std::string& key) {
        if (!provenance_key_compared(key)) return;
        for (const auto& x : d)
            if (x.key == key) return;
        const std::string *va = a.get(key), *vb = b.get(key);
        if (va && vb && *va == *vb) return;
        d.push_back({key, va ? *va : "", vb ? *vb : ""});
    };
    if (!keys_of_b_only)
        for (const auto& kv : a.fields) check(kv.first);
    for (const auto& kv : b.fields) check(kv.first);
    return d;
}

std::string describe_differences(const std::vector<ProvenanceDifference>& d, const std::string& a_name,
                                 const std::string& b_name) {
    std::string s;
    for (const auto& x : d)
        s += (s.empty() ? "" : "; ") + x.key + " " + (x.a.empty() ? "(none)" : "'" + shown(x.a) + "'") + " (" + a_name +
             ") against " + (x.b.empty() ? "(none)" : "'" + shown(x.b) + "'") + " (" + b_name + ")";
    return s;
}

Provenance combine_provenance(const Provenance& a, const std::string& a_name, const Provenance& b,
                              const std::string& b_name) {
    const auto d = provenance_differences(a, b);
    if (!d.empty())
        throw std::invalid_argument(b_name + " was made with another net, weights or preprocessing than " + a_name +
                                    ": " + describe_differences(d, a_name, b_name) +
                                    "; their codes are not comparable (re-index one of them with the other's net and weights)");
    Provenance c = a;
    for (const auto& kv : b.fields) {
        const std::string* mine = c.get(kv.first);
        if (!mine) {
            c.set(kv.first, kv.second);
        } else if (kv.first == provenance_key::kVersion) {
            // Each version once, in order: "0.1.0" and "0.2.0" give "0.1.0, 0.2.0".
            std::vector<std::string> versions = split_list(*mine);
            for (const std::string& v : split_list(kv.second))
                if (std::find(versions.begin(), versions.end(), v) == versions.end()) versions.push_back(v);
            std::string joined;
            for (const std::string& v : versions) joined += (joined.empty() ? "" : ", ") + v;
            c.set(kv.first, joined);
        }
    }
    for (const auto& s : b.sources) c.add_source(s);
    return c;
}

}  // namespace dlbhc
