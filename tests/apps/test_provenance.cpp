// tests/apps/test_provenance.cpp -- an index knows where it came from: the provenance section of the
// index file (search/provenance.h: encoding, every kind of malformed section, the file layout
// around it), what the commands record and check (apps/provenance.h: query, eval and
// index --append refuse another snapshot's weights; version-1 indexes open with a warning;
// merge and append combine data sources), the net a weights file was trained with, `dlbhc info`,
// `query --html` without --db-data, and every command reading its weights file once.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "apps/commands.h"
#include "apps/provenance.h"
#include "data/image_io.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"
#include "io/path.h"
#include "io/byte_order.h"
#include "io/xxhash64.h"
#include "search/index_file.h"
#include "search/provenance.h"
#include "tests/support/commands.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::plus;
using dlbhc::test::error_of;
using dlbhc::test::has;
using dlbhc::test::read_all;
using dlbhc::test::TempDir;

namespace {

namespace pk = provenance_key;

// What a command printed and returned, as `dlbhc` would show it: an exception is exit status 1
// with "error: <message>" on stderr.
struct Output {
    int code = 0;
    std::string out, err;
};

template <class F>
Output run(const TempDir& dir, F&& fn) {
    Output o;
    const test::Captured c = test::capture(dir, [&] { o.code = fn(); });
    if (!c.error.empty()) o.code = 1;
    o.out = c.out;
    o.err = c.err + (c.error.empty() ? "" : "error: " + c.error + "\n");
    return o;
}

// The tiny net (tests/support/tiny_net.h): fc7 32 (the features), latent 16, 4 classes.
test::TinyNet tiny(int fc7 = 32, int latent = 16) { return {"ProvNet", "a/train", 8, 8, fc7, latent, 4}; }

// A scratch folder with the net, two weights files for it drawn from its fillers with different
// seeds (as two snapshots of one run would differ) and a 20-image MNIST-format dataset.
struct Setup {
    TempDir dir;
    std::string net, w1, w2, data;
    explicit Setup(const test::TinyNet& t = tiny()) {
        net = dir.file("net.prototxt");
        test::write_text(net, test::tiny_net_prototxt(t));
        w1 = weights("w1.weights", 7);
        w2 = weights("w2.weights", 8);
        data = dataset("a", 20, 11);
    }
    std::string weights(const std::string& name, uint64_t seed) const {
        test::write_filler_weights(net, dir.file(name), seed);
        return dir.file(name);
    }
    // DIR/<name>/train-{images,labels}: `items` random images, labels 0..3; returns the spec.
    std::string dataset(const std::string& name, uint32_t items, unsigned seed) const {
        return test::write_random_mnist(dir, name, items, seed);
    }
    Output index(const std::string& weights, const std::string& data_spec, const std::string& out,
                 const std::vector<std::string>& more = {}) const {
        return run(dir, [&] {
            return cmd_index(plus({"--net", net, "--weights", weights, "--data", data_spec, "--out", out}, more));
        });
    }
    Output query(const std::string& weights, const std::string& idx, const std::vector<std::string>& more = {}) const {
        return run(dir, [&] {
            return cmd_query(plus({"--net", net, "--weights", weights, "--index", idx, "--item", data + ":3", "--k", "3"},
                                  more));
        });
    }
    Output eval(const std::string& weights, const std::string& idx) const {
        return run(dir, [&] {
            return cmd_eval({"--net", net, "--weights", weights, "--index", idx, "--queries", data, "--max-queries", "4",
                             "--k", "5"});
        });
    }
};

// `text` with the first `from` replaced by `to` (a failed check when there is none).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    return text.replace(at, from.size(), to);
}

std::string value_or_none(const std::string* v) { return v ? *v : "(absent)"; }
std::string value(const Provenance& p, const char* key) { return value_or_none(p.get(key)); }

// A provenance section built by hand: `count` entries declared (-1: as many as given), the
// reserved word, and a valid checksum unless told otherwise.
std::string section(const std::vector<std::pair<std::string, std::string>>& entries, long count = -1,
                    uint32_t reserved = 0) {
    std::string s("DLBHCPRV", 8);
    unsigned char w[8];
    auto put32 = [&](uint32_t v) {
        store_le32(w, v);
        s.append((const char*)w, 4);
    };
    put32(count < 0 ? (uint32_t)entries.size() : (uint32_t)count);
    put32(reserved);
    for (const auto& kv : entries) {
        put32((uint32_t)kv.first.size());
        s += kv.first;
        put32((uint32_t)kv.second.size());
        s += kv.second;
    }
    store_le64(w, xxhash64(s.data(), s.size()));
    s.append((const char*)w, 8);
    return s;
}

void reseal(std::string& s) {  // the section's own checksum, as a forger would recompute it
    store_le64((unsigned char*)&s[s.size() - 8], xxhash64(s.data(), s.size() - 8));
}

std::string decode_error(const std::string& s) {
    return error_of([&] { decode_provenance((const unsigned char*)s.data(), s.size(), "x: "); });
}

Provenance sample() {
    Provenance p;
    p.set(pk::kVersion, "0.1.0");
    p.set(pk::kNetName, "TinyNet");
    p.set(pk::kNetHash, "0123456789abcdef");
    p.set(pk::kWeightsHash, "fedcba9876543210");
    p.add_source({"/data/a/train", "", 20});
    p.add_source({"list.txt", "/images", 7});
    return p;
}

}  // namespace

TEST_CASE("provenance: the section round-trips, is the same bytes for the same inputs, lists each data source once") {
    Provenance p = sample();
    p.add_source({"/data/a/train", "", 20});  // listed already: kept once
    REQUIRE(p.sources.size() == 2);
    const std::string bytes = encode_provenance(p, "x: ");
    CHECK(bytes == encode_provenance(sample(), "x: "));
    CHECK(bytes.compare(0, 8, "DLBHCPRV") == 0);
    const Provenance q = decode_provenance((const unsigned char*)bytes.data(), bytes.size(), "x: ");
    CHECK(q.fields == p.fields);
    CHECK(q.sources == p.sources);
    CHECK(has(bytes, "data.1.root"));
    CHECK_FALSE(has(bytes, "data.0.root"));  // an empty root is not written

    // Combining (append, merge): compared keys equal, versions listed once, sources a's then b's new ones.
    Provenance b = sample();
    b.set(pk::kVersion, "0.2.0");
    b.sources = {{"/data/b/train", "", 5}, {"/data/a/train", "", 20}};
    const Provenance c = combine_provenance(p, "A", b, "B");
    CHECK(value(c, pk::kVersion) == "0.1.0, 0.2.0");
    CHECK(value(combine_provenance(c, "C", b, "B"), pk::kVersion) == "0.1.0, 0.2.0");
    REQUIRE(c.sources.size() == 3);
    CHECK(c.sources[2].source == "/data/b/train");
    b.set(pk::kWeightsHash, "1111111111111111");
    b.set(pk::kNetName, "Other");  // informational: not a reason to refuse
    const std::string e = error_of([&] { combine_provenance(p, "'a.idx'", b, "'b.idx'"); });
    CHECK_MESSAGE(has(e, "'b.idx' was made with another net, weights or preprocessing than 'a.idx': weights.hash "
                         "'fedcba9876543210' ('a.idx') against '1111111111111111' ('b.idx')"),
                  e);
    CHECK_FALSE(has(e, "net.name"));

    // The writer refuses what the reader would.
    Provenance bad;
    bad.set("Net.Name", "x");
    CHECK(has(error_of([&] { encode_provenance(bad, "x: "); }), "provenance key 'Net.Name': expected 1 to 64 bytes"));
    bad.fields = {{"data.0.source", "x"}};
    CHECK(has(error_of([&] { encode_provenance(bad, "x: "); }), "data.* keys hold the data sources only"));
    bad.fields = {{"k", std::string(kMaxProvenanceValueBytes + 1, 'v')}};
    CHECK(has(error_of([&] { encode_provenance(bad, "x: "); }), "expected a value of at most 65536 bytes, found 65537"));
    bad.fields.clear();
    for (int i = 0; i < 40; ++i) bad.add_source({std::string(30000, char('a' + i % 26)) + std::to_string(i), "", 1});
    CHECK(has(error_of([&] { encode_provenance(bad, "x: "); }), "expected a provenance of at most 1048576 bytes"));
}

TEST_CASE("provenance: malformed sections are refused, naming what is wrong, before any length is trusted") {
    const std::vector<std::pair<std::string, std::string>> ok = {{"net.hash", "0123"}, {"data.0.source", "a"},
                                                                 {"data.0.items", "3"}};
    CHECK(decode_error(section(ok)).empty());
    CHECK(has(decode_error(section(ok).substr(0, 20)), "expected 24 to 1048576 bytes, found 20"));
    CHECK(has(decode_error(std::string(kMaxProvenanceBytes + 1, 'x')), "found 1048577"));
    std::string s = section(ok);
    s[0] = 'X';
    CHECK(has(decode_error(s), "expected the magic 'DLBHCPRV'"));
    s = section(ok);
    s[20] ^= 1;  // a byte of the first key: the checksum no longer matches
    CHECK(has(decode_error(s), "x: provenance section: checksum mismatch"));
    CHECK(has(decode_error(section(ok, -1, 7)), "reserved field (bytes 12..15) to be 0, found 7"));
    CHECK(has(decode_error(section(ok, 0xFFFFFFFF)), "a count of 4294967295"));
    CHECK(has(decode_error(section(ok, 4)), "entry 3: truncated key length"));
    CHECK(has(decode_error(section(ok, 2)), "expected the checksum right after the 2 entries"));
    // Lengths: a key of 0 or 65 bytes, a key or value running past the section, an oversized value.
    CHECK(has(decode_error(section({{"", "v"}})), "expected a key of a-z, 0-9"));
    CHECK(has(decode_error(section({{std::string(65, 'k'), "v"}})), "expected a key of at most 64 bytes"));
    s = section({{"key", "value"}});
    store_le32((unsigned char*)&s[16], 0x7FFFFFFF);
    reseal(s);
    CHECK(has(decode_error(s), "found a length of 2147483647"));
    s = section({{"key", "value"}});
    store_le32((unsigned char*)&s[23], 1000);  // the value's length, past the end
    reseal(s);
    CHECK(has(decode_error(s), "entry 0: expected a value of at most 5 bytes"));
    CHECK(has(decode_error(section({{"key", std::string(kMaxProvenanceValueBytes + 1, 'v')}})),
              "expected a value of at most 65536 bytes"));
    // Keys: characters, duplicates, data sources.
    CHECK(has(decode_error(section({{"Net", "v"}})), "found 'Net'"));
    CHECK(has(decode_error(section({{"net.hash", "a"}, {"net.hash", "b"}})), "key 'net.hash' appears twice"));
    CHECK(has(decode_error(section({{"data.x.source", "a"}})), "expected data source keys"));
    CHECK(has(decode_error(section({{"data.0.colour", "a"}})), "found 'data.0.colour'"));
    CHECK(has(decode_error(section({{"data.00.source", "a"}, {"data.00.items", "1"}})), "expected data source keys"));
    CHECK(has(decode_error(section({{"data.1.source", "a"}, {"data.1.items", "1"}})), "numbered from 0 without gaps"));
    CHECK(has(decode_error(section({{"data.0.source", "a"}})), "found no item count"));
    CHECK(has(decode_error(section({{"data.0.items", "1"}})), "found no source"));
    CHECK(has(decode_error(section({{"data.0.source", "a"}, {"data.0.items", "-1"}})), "expected an item count, found '-1'"));
    CHECK(has(decode_error(section({{"data.0.source", "a"}, {"data.0.items", "18446744073709551616"}})),
              "expected an item count"));
}

TEST_CASE("provenance: in the index file, the section is bounded by the header's file size and checked at every level") {
    TempDir dir;
    CodeSet codes(20);
    for (uint64_t i = 0; i < 5; ++i) codes.add(&i);
    std::vector<float> feats(15, 0.5f);  // 5 x 3 float32: 60 bytes, so padding before the provenance
    const Provenance p = sample();
    IndexItems items;
    items.codes = codes.view();
    items.features = feats.data();
    items.feature_dim = 3;
    items.provenance = &p;
    const std::string good = dir.file("good.idx"), bad = dir.file("bad.idx");
    write_index(good, items);
    const IndexFile f = IndexFile::open(good);
    CHECK(f.version() == 2);
    CHECK(f.provenance().fields == p.fields);
    CHECK(f.provenance().sources == p.sources);
    const std::string bytes = read_all(good);
    const uint64_t size = bytes.size(), feats_at = load_le64((const unsigned char*)&bytes[72]);
    const uint64_t data_end = feats_at + 60, prov_at = (data_end + 63) / 64 * 64;
    REQUIRE(prov_at > data_end);
    REQUIRE(bytes.compare(prov_at, 8, "DLBHCPRV") == 0);
    REQUIRE(size == prov_at + encode_provenance(p, "").size());

    using V = IndexOpenOptions::Verify;
    auto refused = [&](std::string b, std::initializer_list<const char*> parts, std::initializer_list<V> levels) {
        store_le64((unsigned char*)&b[120], xxhash64(b.data(), 120));  // a valid header checksum
        test::write_text(bad, b);
        for (V v : levels) {
            IndexOpenOptions o;
            o.verify = v;
            const std::string e = error_of([&] { IndexFile::open(bad, o); });
            for (const char* part : parts) CHECK_MESSAGE(has(e, part), e);
        }
    };
    auto with_size = [&](uint64_t v) {
        std::string b = bytes;
        store_le64((unsigned char*)&b[80], v);
        return b;
    };
    const std::initializer_list<V> all = {V::Full, V::SkipFeatures, V::HeaderOnly};
    // A damaged section is found at every level (it is small and the commands rely on it).
    std::string b = bytes;
    b[prov_at + 20] ^= 1;
    refused(b, {"bad.idx", "provenance section: checksum mismatch"}, all);
    // File sizes that leave too little or too much room for a section.
    refused(with_size(prov_at + 10), {"header field 'file size'", "no provenance", std::to_string(prov_at + 10).c_str()}, all);
    refused(with_size(prov_at + kMaxProvenanceBytes + 1), {"header field 'file size'"}, all);
    refused(with_size(~0ull), {"header field 'file size'", "18446744073709551615"}, all);
    // Cut short inside the section, or with bytes after it.
    refused(bytes.substr(0, size - 8), {"truncated", "header field 'file size'", std::to_string(size).c_str()}, all);
    refused(bytes + "x", {"data after the last section"}, all);
    // The padding before the section is outside every checksum: checked byte by byte.
    b = bytes;
    b[data_end + 1] = 0x5a;
    refused(b, {"zero padding before the provenance section", std::to_string(data_end + 1).c_str()}, {V::Full, V::SkipFeatures});
    // A version-1 header has no provenance section: its file size must end at the last section.
    b = bytes;
    store_le32((unsigned char*)&b[8], 1);
    refused(b, {"header field 'file size'", ("expected " + std::to_string(data_end)).c_str()}, all);
    // Without provenance, a version-2 file is laid out exactly as version 1.
    IndexItems plain = items;
    plain.provenance = nullptr;
    write_index(dir.file("plain.idx"), plain);
    const std::string pb = read_all(dir.file("plain.idx"));
    CHECK(pb.size() == data_end);
    CHECK_FALSE(IndexFile::open(dir.file("plain.idx")).has_provenance());
}

TEST_CASE("provenance: a version-1 index (written by the old writer) opens, searched and appended to with a warning") {
    // tests/fixtures/index/v1_f32.idx: 5 items, 64-bit codes, 4-d float32 features, written by
    // dlbhc before indexes recorded provenance (make_seeds.cpp of that time).
    const std::string fixture = test::fixture_dir() + "/../index/v1_f32.idx";
    const IndexFile v1 = IndexFile::open(fixture);
    CHECK(v1.version() == 1);
    CHECK(v1.size() == 5);
    CHECK_FALSE(v1.has_provenance());

    Setup s(tiny(4, 64));  // a net making 64-bit codes and 4-d features, as the fixture holds
    const std::string idx = s.dir.file("v1.idx");
    std::filesystem::copy_file(fixture, idx);
    Output o = s.query(s.w1, idx);
    CHECK_MESSAGE(o.code == 0, o.err);
    CHECK_MESSAGE(has(o.err, "warning: index '" + idx + "' records no provenance (format version 1, written by an older "
                             "dlbhc): the net and weights it was built with cannot be checked against --net and "
                             "--weights; re-index it to record them"),
                  o.err);
    CHECK(has(o.out, "rank"));
    o = s.eval(s.w1, idx);
    CHECK_MESSAGE(o.code == 0, o.err);
    CHECK(has(o.err, "records no provenance (format version 1"));
    o = s.index(s.w2, s.data, idx, {"--append"});
    CHECK_MESSAGE(o.code == 0, o.err);
    CHECK_MESSAGE(has(o.err, "records no provenance (format version 1, written by an older dlbhc): the new items cannot "
                             "be checked against it, and it will record none"),
                  o.err);
    const IndexFile grown = IndexFile::open(idx);
    CHECK(grown.size() == 25);
    CHECK(grown.version() == 2);
    CHECK_FALSE(grown.has_provenance());  // the old items' origin is unknown: nothing is claimed
    o = run(s.dir, [&] { return cmd_info({fixture}); });
    CHECK(has(o.out, "format version 1, 5 items, 64-bit codes, 4-d float32 features"));
    CHECK(has(o.out, "provenance: none recorded (format version 1, written by an older dlbhc)"));
}

TEST_CASE("provenance: query, eval and index --append refuse another snapshot's weights before encoding, naming both") {
    Setup s;
    const std::string idx = s.dir.file("db.idx"), other = s.dir.file("other.idx");
    REQUIRE(s.index(s.w1, s.data, idx).code == 0);
    REQUIRE(s.index(s.w2, s.data, other).code == 0);
    const Provenance p = IndexFile::open(idx).provenance();
    const std::string h1 = value(p, pk::kWeightsHash), h2 = value(IndexFile::open(other).provenance(), pk::kWeightsHash);
    REQUIRE(h1.size() == 16);
    REQUIRE(h1 != h2);
    CHECK(value(p, pk::kNetHash) == net_hash(load_net_spec(s.net), 0));
    CHECK(value(p, pk::kWeightsFile) == s.w1);
    CHECK(value(p, pk::kNetName) == "ProvNet");
    CHECK(value(p, pk::kInput) == "1x28x28");
    CHECK(value(p, pk::kScale) == "0.00390625");
    CHECK(value(p, pk::kMean) == "none");
    CHECK(value(p, pk::kCodeBlob) == "fc8_kevin_encode");
    CHECK(value(p, pk::kFeatureBlob) == "fc7");
    REQUIRE(p.sources.size() == 1);
    CHECK(p.sources[0] == DataSource{s.data, "", 20});

    const std::string both = "index '" + idx + "' was built with weights " + h1 + " ('" + s.w1 + "', net 'ProvNet' " +
                             value(p, pk::kNetHash) + "); --weights '" + s.w2 + "' are " + h2 +
                             ": the codes are not comparable";
    const std::string before = read_all(idx);
    for (int cmd = 0; cmd < 3; ++cmd) {
        CAPTURE(cmd);
        const Output o = cmd == 0 ? s.query(s.w2, idx) : cmd == 1 ? s.eval(s.w2, idx) : s.index(s.w2, s.data, idx, {"--append"});
        CHECK(o.code != 0);
        CHECK_MESSAGE(has(o.err, both), o.err);
        CHECK_FALSE(has(o.err, "encoded"));  // refused before the encoding's progress line
        CHECK_FALSE(has(o.out, "rank"));     // no neighbours printed
        CHECK(read_all(idx) == before);
    }
    // The index's own weights pass; so does another dataset for --append (one more data source).
    CHECK(s.query(s.w1, idx).code == 0);
    CHECK(s.eval(s.w1, idx).code == 0);
    const std::string b = s.dataset("b", 6, 12);
    Output o = s.index(s.w1, b, idx, {"--append"});
    CHECK_MESSAGE(o.code == 0, o.err);
    o = s.index(s.w1, s.data, idx, {"--append"});  // the first data again: listed once
    CHECK_MESSAGE(o.code == 0, o.err);
    const IndexFile grown = IndexFile::open(idx);
    CHECK(grown.size() == 46);
    REQUIRE(grown.provenance().sources.size() == 2);
    CHECK(grown.provenance().sources[1] == DataSource{b, "", 6});
    // Another net that the same weights fit (max pooling instead of average): named with both hashes.
    const std::string max_net = s.dir.file("max.prototxt");
    test::write_text(max_net, replaced(test::tiny_net_prototxt(tiny()), "pool: AVE", "pool: MAX"));
    o = run(s.dir, [&] {
        return cmd_query({"--net", max_net, "--weights", s.w1, "--index", idx, "--item", s.data + ":1"});
    });
    CHECK(o.code != 0);
    CHECK_MESSAGE(has(o.err, "index '" + idx + "' was built with net 'ProvNet' " + value(p, pk::kNetHash) + "; --net '" +
                             max_net + "' (net 'ProvNet') is " + net_hash(load_net_spec(max_net), 0) +
                             ": the codes are not comparable"),
                  o.err);
}

// Counts the opens of one file (inotify IN_OPEN) from its construction on. The closes and reads
// are watched too, so that two opens in a row are never merged into one event (inotify merges
// identical events that follow each other unread).
class OpenCounter {
public:
    explicit OpenCounter(const std::string& path) : fd_(::inotify_init1(IN_NONBLOCK)) {
        REQUIRE(fd_ >= 0);
        REQUIRE(::inotify_add_watch(fd_, path.c_str(), IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE) >= 0);
    }
    ~OpenCounter() { ::close(fd_); }
    int opens() {
        alignas(struct inotify_event) char buf[4096];
        for (ssize_t n; (n = ::read(fd_, buf, sizeof buf)) > 0;)
            for (const char* p = buf; p < buf + n;) {
                const auto* e = reinterpret_cast<const struct inotify_event*>(p);
                opens_ += (e->mask & IN_OPEN) != 0;
                p += sizeof(struct inotify_event) + e->len;
            }
        return opens_;
    }

private:
    int fd_;
    int opens_ = 0;
};

TEST_CASE("weights: every command that runs a trained net reads the weights file once") {
    // Opened twice: once when the options are checked (pipeline_options, before any data is read:
    // a missing file fails at once) and once when it is read and decoded. A third open would be a
    // second read of a file that may hold hundreds of MB (CaffeNet's weights).
    Setup s;
    const std::string idx = s.dir.file("db.idx"), png = s.dir.file("q.png");
    REQUIRE(s.index(s.w1, s.data, idx).code == 0);
    Image img(1, 28, 28);
    for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t(i * 7);
    save_png(png, img);
    // audit learns the channels of an --image from the weights of the first convolution: a net with one.
    const std::string conv_net = s.dir.file("conv.prototxt"), conv_w = s.dir.file("conv.weights");
    std::string text = replaced(test::tiny_net_prototxt(tiny()), "layer { name: \"pool1\"",
                                "layer { name: \"conv1\" type: \"Convolution\" bottom: \"data\" top: \"conv1\" "
                                "convolution_param { num_output: 2 kernel_size: 3 pad: 1 weight_filler { type: \"xavier\" } } }\n"
                                "layer { name: \"pool1\"");
    test::write_text(conv_net, replaced(text, "bottom: \"data\" top: \"pool1\"", "bottom: \"conv1\" top: \"pool1\""));
    {
        NetBuildOptions bo;
        bo.batch = 1, bo.channels = 1, bo.height = 28, bo.width = 28;
        auto n = build_net(load_net_spec(conv_net), Phase::Test, bo);
        Rng init(3);
        n->init_params(init);
        write_weights(conv_w, weights_from_net(*n));
    }
    const std::vector<std::tuple<std::string, std::string, std::function<int()>>> commands = {
        {"index", s.w1, [&] { return cmd_index({"--net", s.net, "--weights", s.w1, "--data", s.data, "--out", s.dir.file("b.idx")}); }},
        {"encode --data", s.w1, [&] { return cmd_encode({"--net", s.net, "--weights", s.w1, "--data", s.data}); }},
        {"encode --image", s.w1, [&] { return cmd_encode({"--net", s.net, "--weights", s.w1, "--image", png}); }},
        {"query --image", s.w1, [&] { return cmd_query({"--net", s.net, "--weights", s.w1, "--index", idx, "--image", png}); }},
        {"query --item", s.w1, [&] { return cmd_query({"--net", s.net, "--weights", s.w1, "--index", idx, "--item", s.data + ":2"}); }},
        {"eval", s.w1, [&] { return cmd_eval({"--net", s.net, "--weights", s.w1, "--index", idx, "--queries", s.data}); }},
        {"audit --image", conv_w, [&] { return cmd_audit({"--net", conv_net, "--weights", conv_w, "--image", png}); }},
    };
    for (const auto& [name, weights, command] : commands) {
        CAPTURE(name);
        OpenCounter counter(weights);
        const Output o = run(s.dir, command);
        REQUIRE_MESSAGE(o.code == 0, o.err);
        CHECK(counter.opens() == 2);
    }
}

TEST_CASE("provenance: net.hash ignores comments, spacing, training settings and the classifier; not what makes codes") {
    TempDir dir;
    const std::string base = test::tiny_net_prototxt(tiny());
    auto hash_of = [&](const std::string& text, int bits = 0) { return net_hash(parse_net_spec(text, "n.prototxt"), bits); };
    const std::string h = hash_of(base);
    CHECK(h.size() == 16);
    // Comments, spacing, lr_mult and fillers, another classifier size: the same codes.
    CHECK(hash_of(replaced("# a comment\n" + base, "layer { name: \"fc7\"",
                           "layer {\n  name:   \"fc7\"  # fc7\n  param { lr_mult: 2 decay_mult: 0 }")) == h);
    CHECK(hash_of(replaced(base, "type: \"xavier\"", "type: \"gaussian\" std: 0.01")) == h);
    CHECK(hash_of(test::tiny_net_prototxt({"ProvNet", "a/train", 8, 8, 32, 16, 10})) == h);
    // A deploy file: an input instead of the data layers, no classifier or loss.
    std::string deploy = "name: \"ProvNet\"\ninput: \"data\"\ninput_shape { dim: 1 dim: 1 dim: 28 dim: 28 }\n" +
                         base.substr(base.find("layer { name: \"pool1\""));
    deploy.resize(deploy.find("layer { name: \"fc8_pascal\""));
    CHECK(hash_of(deploy) == h);
    // What changes the codes changes it: the code length, a layer's setting, a layer's name.
    CHECK(hash_of(base, 8) != h);
    CHECK(hash_of(base, 16) == h);
    CHECK(hash_of(replaced(base, "kernel_size: 4", "kernel_size: 2")) != h);
    CHECK(hash_of(replaced(base, "pool: AVE", "pool: MAX")) != h);
    CHECK(hash_of(test::tiny_net_prototxt(tiny(33, 16))) != h);
}

TEST_CASE("provenance: train records the net in snapshots and --out; the same parameters hash equal from both") {
    Setup s;
    const std::string solver = s.dir.file("solver.prototxt");
    test::write_text(solver, "net: \"" + s.net + "\"\nbase_lr: 0.01\nlr_policy: \"fixed\"\nmax_iter: 4\nsnapshot: 2\n"
                             "display: 0\nrandom_seed: 1\n");
    const std::string prefix = s.dir.file("snap/tiny"), out = s.dir.file("final.weights");
    Output o = run(s.dir, [&] {
        return cmd_train({"--solver", solver, "--train-data", s.data, "--test-data", "none", "--snapshot-prefix", prefix,
                          "--out", out});
    });
    REQUIRE_MESSAGE(o.code == 0, o.err);
    const std::string snap2 = prefix + "_iter_2.weights", snap4 = prefix + "_iter_4.weights";
    const std::string h = net_hash(load_net_spec(s.net), 0);
    for (const std::string& f : {snap2, snap4, out}) {
        CAPTURE(f);
        const WeightsFile w = read_weights(f);
        CHECK(value_or_none(w.meta("net.name")) == "ProvNet");
        CHECK(value_or_none(w.meta("net.hash")) == h);
        CHECK(value_or_none(w.meta("net.file")) == s.net);
        CHECK(trained_net(w).hash == h);
    }
    // Index with the last snapshot, query with --out: the same parameters, so the same hash.
    const std::string idx = s.dir.file("db.idx");
    REQUIRE(s.index(snap4, s.data, idx).code == 0);
    o = s.query(out, idx);
    CHECK_MESSAGE(o.code == 0, o.err);
    o = s.query(snap2, idx);
    CHECK(o.code != 0);
    CHECK(has(o.err, "--weights '" + snap2 + "' are "));
    // dlbhc info on a snapshot and on a converted-like file (no record).
    o = run(s.dir, [&] { return cmd_info({snap4}); });
    CHECK_MESSAGE(has(o.out, "weights " + snap4 + ": training snapshot at iteration 4, 12 tensors"), o.out);
    CHECK(has(o.out, "trained with net 'ProvNet' (net.hash " + h + ") from " + s.net));
    CHECK(has(o.out, "(and the momentum of 6)"));
    CHECK(has(o.out, "fc8_kevin.weight"));
    o = run(s.dir, [&] { return cmd_info({"--json", out}); });
    CHECK(has(o.out, "\"kind\": \"weights\""));
    CHECK(has(o.out, "\"trained_net\": {\"name\": \"ProvNet\", \"hash\": \"" + h + "\""));
    o = run(s.dir, [&] { return cmd_info({s.w1}); });
    CHECK(has(o.out, "trained with: not recorded"));
}

TEST_CASE("provenance: train --resume refuses a snapshot of another net before reading the data") {
    Setup s;
    const std::string solver = s.dir.file("solver.prototxt");
    test::write_text(solver, "net: \"" + s.net + "\"\nbase_lr: 0.01\nlr_policy: \"fixed\"\nmax_iter: 4\nsnapshot: 2\n"
                             "display: 0\nrandom_seed: 1\n");
    const std::string prefix = s.dir.file("snap/tiny");
    auto train = [&](const std::vector<std::string>& more) {
        return run(s.dir, [&] {
            return cmd_train(plus({"--solver", solver, "--train-data", s.data, "--test-data", "none", "--snapshot-prefix",
                                   prefix},
                                  more));
        });
    };
    Output o = train({"--max-iter", "2"});
    REQUIRE_MESSAGE(o.code == 0, o.err);
    const std::string snap = prefix + "_iter_2.weights";
    // Another code length is another net: its latent layer has other shapes.
    o = train({"--resume", snap, "--max-iter", "4", "--bits", "12"});
    CHECK(o.code != 0);
    CHECK_MESSAGE(has(o.err, "--resume '" + snap + "' was trained with net 'ProvNet' (" + s.net + ", net.hash " +
                                 net_hash(load_net_spec(s.net), 0) + "), but this run trains net 'ProvNet'"),
                  o.err);
    CHECK_MESSAGE(!has(o.out, "training data"), o.out);  // refused before the data was read
    // The same net resumes.
    o = train({"--resume", snap, "--max-iter", "4"});
    CHECK_MESSAGE(o.code == 0, o.err);
}

TEST_CASE("train: a run that fails before its first snapshot leaves no snapshot folder behind") {
    Setup s;
    // Finite but huge initial weights: the first forward overflows, the loss is not finite and
    // training stops (exit 3) before any snapshot is written.
    WeightsFile w = read_weights(s.w1);
    for (NamedTensor& t : w.tensors)
        for (float& v : t.data) v = 3e38f;
    const std::string huge = s.dir.file("huge.weights");
    write_weights(huge, w);
    const std::string solver = s.dir.file("solver.prototxt");
    test::write_text(solver, "net: \"" + s.net + "\"\nbase_lr: 0.01\nlr_policy: \"fixed\"\nmax_iter: 50\n"
                             "snapshot: 40\ndisplay: 0\nrandom_seed: 1\n");
    const Output o = run(s.dir, [&] {
        return cmd_train({"--solver", solver, "--weights", huge, "--train-data", s.data, "--test-data", "none",
                          "--snapshot-prefix", s.dir.file("new/deeper/tiny")});
    });
    CHECK_MESSAGE(o.code == 3, o.err);
    CHECK_FALSE(path_exists(s.dir.file("new")));
}

TEST_CASE("provenance: merge refuses indexes made with other weights, naming both files; shards record the whole dataset") {
    Setup s;
    const std::string a = s.dir.file("a.idx"), a2 = s.dir.file("a2.idx"), w2 = s.dir.file("w2.idx"),
                      b = s.dir.file("b.idx"), out = s.dir.file("out.idx");
    REQUIRE(s.index(s.w1, s.data, a).code == 0);
    REQUIRE(s.index(s.w1, s.data, a2).code == 0);
    REQUIRE(s.index(s.w2, s.data, w2).code == 0);
    const std::string other = s.dataset("b", 6, 12);
    REQUIRE(s.index(s.w1, other, b).code == 0);
    Output o = run(s.dir, [&] { return cmd_merge({out, a, w2}); });
    CHECK(o.code != 0);
    CHECK_MESSAGE(has(o.err, "index file '" + w2 + "': cannot merge it with '" + a + "' (the first input): '" + w2 +
                             "' was made with another net, weights or preprocessing than '" + a +
                             "' (the first input): weights.hash"),
                  o.err);
    CHECK_FALSE(std::filesystem::exists(out));
    // Same data twice: one source; other data: listed after it.
    REQUIRE(run(s.dir, [&] { return cmd_merge({out, a, a2, b}); }).code == 0);
    const Provenance m = IndexFile::open(out).provenance();
    REQUIRE(m.sources.size() == 2);
    CHECK(m.sources[0] == DataSource{s.data, "", 20});
    CHECK(m.sources[1] == DataSource{other, "", 6});
    CHECK(m.fields == IndexFile::open(a).provenance().fields);
    // A shard records the whole dataset's item count (so shards merge to the unsharded bytes).
    REQUIRE(s.index(s.w1, s.data, s.dir.file("s1.idx"), {"--shard", "1/3"}).code == 0);
    const IndexFile shard = IndexFile::open(s.dir.file("s1.idx"));
    CHECK(shard.size() == 7);
    CHECK(shard.provenance().sources.at(0).items == 20);
    // An input without provenance: merged, with a warning, and nothing claimed.
    const std::string v1 = s.dir.file("v1.idx");
    std::string bytes = read_all(a);
    bytes.resize(load_le64((const unsigned char*)&bytes[72]) + 20 * 32 * 4);  // cut the provenance off
    store_le64((unsigned char*)&bytes[80], bytes.size());
    store_le64((unsigned char*)&bytes[120], xxhash64(bytes.data(), 120));
    test::write_text(v1, bytes);
    o = run(s.dir, [&] { return cmd_merge({"--force", out, a, v1}); });
    CHECK_MESSAGE(o.code == 0, o.err);
    CHECK(has(o.err, "warning: index '" + out + "' records no provenance"));
    CHECK_FALSE(IndexFile::open(out).has_provenance());
}

TEST_CASE("provenance: dlbhc info prints an index's header, provenance and the health of its codes") {
    TempDir dir;
    CodeSet codes(4);
    for (uint64_t c : {0x3ull, 0x3ull, 0x5ull, 0x0ull}) codes.add(&c);
    const Provenance p = sample();
    IndexItems items;
    items.codes = codes.view();
    items.provenance = &p;
    const std::string idx = dir.file("db.idx");
    write_index(idx, items);
    Output o = run(dir, [&] { return cmd_info({idx}); });
    REQUIRE_MESSAGE(o.code == 0, o.err);
    CHECK(has(o.out, "index " + idx + ": format version 2, 4 items, 4-bit codes, no features"));
    CHECK(has(o.out, "  weights.hash           fedcba9876543210\n"));
    CHECK(has(o.out, "  data source 1          list.txt (root /images), 7 items\n"));
    // Codes 0011, 0011, 0101, 0000: bit 0 set in 3 of 4, bit 1 in 2, bit 2 in 1, bit 3 never.
    CHECK_MESSAGE(has(o.out, "distinct codes         3 (75.0% of the items)"), o.out);
    CHECK(has(o.out, "largest group          2 items share code 3 (item 0)"));
    CHECK(has(o.out, "share of ones per bit  min 0.000 (bit 3), mean 0.375, max 0.750 (bit 0)"));
    CHECK(has(o.out, "bits outside [0.1,0.9] 1 of 4: 3"));
    CHECK(has(o.out, "mean |share - 0.5|     0.250"));
    o = run(dir, [&] { return cmd_info({idx, "--json"}); });
    CHECK(has(o.out, "\"format_version\": 2"));
    CHECK(has(o.out, "\"weights.hash\": \"fedcba9876543210\""));
    CHECK(has(o.out, "{\"source\": \"list.txt\", \"root\": \"/images\", \"items\": 7}"));
    CHECK(has(o.out, "\"distinct\": 3"));
    CHECK(has(o.out, "\"bits_outside_0.1_0.9\": [3]"));
    CHECK(has(o.out, "\"ones_per_bit\": [0.75, 0.5, 0.25, 0]"));
    test::write_text(dir.file("x.txt"), "not a dlbhc file");
    o = run(dir, [&] { return cmd_info({dir.file("x.txt")}); });
    CHECK(o.code != 0);
    CHECK(has(o.err, "expected a dlbhc index (magic DLBHCIDX) or weights file (magic DLBHCWTS), found neither"));
    o = run(dir, [&] { return cmd_info({"--help"}); });
    CHECK(has(o.out, "examples:"));
}

TEST_CASE("provenance: query --html without --db-data shows the recorded data, or says why not without empty frames") {
    Setup s;
    const std::string idx = s.dir.file("db.idx"), html = s.dir.file("page/q.html");
    REQUIRE(s.index(s.w1, s.data, idx).code == 0);
    Output o = s.query(s.w1, idx, {"--html", html});
    REQUIRE_MESSAGE(o.code == 0, o.err);
    CHECK(has(o.out, "(pictures from '" + s.data + "', the data the index records)"));
    CHECK(std::filesystem::exists(s.dir.file("page/q_files/r1.png")));
    CHECK(std::filesystem::exists(s.dir.file("page/q_files/r3.png")));
    CHECK(has(read_all(html), "<img class=\"ok\" src=\"q_files/r1.png\">"));
    // The recorded data is gone (item names "train[i]" are not files either): the reason on
    // stderr and on the page, the results as a table, no frame without a picture.
    std::filesystem::rename(s.dir.file("a"), s.dir.file("moved"));
    const std::string query_data = s.dir.file("moved/train");
    o = run(s.dir, [&] {
        return cmd_query({"--net", s.net, "--weights", s.w1, "--index", idx, "--item", query_data + ":3", "--k", "3",
                          "--html", html});
    });
    REQUIRE_MESSAGE(o.code == 0, o.err);
    CHECK_MESSAGE(has(o.err, "dlbhc query: --html: no picture of the results can be shown: its item names are not image "
                             "files, and its data source '" + s.data + "' cannot be opened here"),
                  o.err);
    CHECK(has(o.err, "pass --db-data SPEC, the dataset the index was built from"));
    const std::string page = read_all(html);
    CHECK(has(page, "<p class=\"note\">No picture of the results can be shown: "));
    CHECK(has(page, "<td>train[3]</td>"));
    CHECK_FALSE(has(page, "<figure><figcaption>#"));  // an empty frame
    CHECK_FALSE(std::filesystem::exists(s.dir.file("page/q_files/r1.png")));
    // Data of the same size but other items: refused as the picture source, saying why.
    s.dataset("a", 20, 99);
    o = run(s.dir, [&] {
        return cmd_query({"--net", s.net, "--weights", s.w1, "--index", idx, "--item", query_data + ":3", "--k", "3",
                          "--html", html});
    });
    CHECK_MESSAGE(has(o.err, "not the same data"), o.err);
    // --db-data still wins.
    o = run(s.dir, [&] {
        return cmd_query({"--net", s.net, "--weights", s.w1, "--index", idx, "--item", query_data + ":3", "--k", "3",
                          "--html", html, "--db-data", query_data});
    });
    CHECK(o.code == 0);
    CHECK(std::filesystem::exists(s.dir.file("page/q_files/r1.png")));
}
