// tests/search/test_index_file.cpp -- the index file: round trip, append, and every kind of bad file.
#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "hash/code.h"
#include "nn/rng.h"
#include "search/float16.h"
#include "search/index_file.h"
#include "io/xxhash64.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::TempDir;

namespace {

struct Items {
    CodeSet codes;
    std::vector<int32_t> labels;
    std::vector<std::string> names;
    std::vector<float> feats;
    int dim = 0;
    IndexItems view(bool with_features = true) const {
        IndexItems it;
        it.codes = codes.view();
        it.labels = labels.data();
        it.names = &names;
        if (with_features && dim) {
            it.features = feats.data();
            it.feature_dim = dim;
        }
        return it;
    }
};

Items make_items(Rng& rng, size_t n, int bits, int dim, size_t first) {
    Items it;
    it.codes = CodeSet(bits);
    it.dim = dim;
    for (size_t i = 0; i < n; ++i) {
        std::vector<uint64_t> c(it.codes.words());
        for (auto& w : c) w = rng.next_u64();
        if (bits % 64) c.back() &= (1ull << (bits % 64)) - 1;
        it.codes.add(c.data());
        it.labels.push_back((int32_t)rng.below(10));
        it.names.push_back(i % 7 == 3 ? "" : "images/class" + std::to_string(it.labels.back()) + "/img_" +
                                                 std::to_string(first + i) + ".jpg");
    }
    it.feats.resize(n * dim);
    for (auto& v : it.feats) v = rng.gaussian(0, 1);
    return it;
}

std::vector<char> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_all(const std::string& path, const std::vector<char>& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(b.data(), (std::streamsize)b.size());
}

// Runs f, which must throw std::runtime_error whose message contains every fragment.
template <class F>
void check_error(F f, std::initializer_list<const char*> fragments) {
    try {
        f();
        FAIL("no exception");
    } catch (const std::exception& e) {
        std::string msg = e.what();
        CAPTURE(msg);
        for (const char* frag : fragments) CHECK(msg.find(frag) != std::string::npos);
    }
}

void check_equal(const IndexFile& f, const Items& a, size_t offset, FeatureType t) {
    for (size_t i = 0; i < a.codes.size(); ++i) {
        size_t j = offset + i;
        for (int w = 0; w < a.codes.words(); ++w) REQUIRE(f.codes().code(j)[w] == a.codes.code(i)[w]);
        REQUIRE(f.label(j) == a.labels[i]);
        REQUIRE(f.name(j) == a.names[i]);
        if (t == FeatureType::F32) {
            const float* row = (const float*)f.features().row(j);
            REQUIRE(std::memcmp(row, &a.feats[i * a.dim], a.dim * 4) == 0);
        } else if (t == FeatureType::F16) {
            const uint16_t* row = (const uint16_t*)f.features().row(j);
            for (int d = 0; d < a.dim; ++d) REQUIRE(row[d] == float_to_half(a.feats[i * a.dim + d]));
        }
    }
}

}  // namespace

TEST_CASE("XXH64 matches the published test values, one shot and streaming") {
    CHECK(xxhash64("", 0) == 0xEF46DB3751D8E999ull);
    CHECK(xxhash64("a", 1) == 0xD24EC4F1A98C6E5Bull);
    CHECK(xxhash64("abc", 3) == 0x44BC2CF5AD770999ull);
    Rng rng(71);
    std::vector<unsigned char> data(1000);
    for (auto& b : data) b = (unsigned char)rng.below(256);
    for (size_t n : {0, 3, 31, 32, 33, 64, 100, 1000}) {
        uint64_t one = xxhash64(data.data(), n);
        XxHash64 s;
        size_t at = 0;
        while (at < n) {
            size_t take = std::min<size_t>(n - at, 1 + rng.below(40));
            s.update(data.data() + at, take);
            at += take;
        }
        CHECK(s.digest() == one);
    }
}

TEST_CASE("index file: round trip with float32, float16 and no features") {
    TempDir dir;
    Rng rng(72);
    for (int bits : {12, 48, 64, 130}) {
        Items a = make_items(rng, 257, bits, 19, 0);
        for (FeatureType t : {FeatureType::F32, FeatureType::F16, FeatureType::None}) {
            CAPTURE(bits);
            std::string path = dir.file("idx.bin");
            IndexWriteOptions wo;
            if (t != FeatureType::None) wo.feature_storage = t;
            write_index(path, a.view(t != FeatureType::None), wo);
            IndexFile f = IndexFile::open(path);
            CHECK(f.size() == 257);
            CHECK(f.bits() == bits);
            CHECK(f.feature_type() == t);
            CHECK(f.feature_dim() == (t == FeatureType::None ? 0 : 19));
            CHECK(((uintptr_t)f.codes().data % 64) == 0);  // sections are 64-byte aligned
            if (t != FeatureType::None) CHECK(((uintptr_t)f.features().data % 64) == 0);
            check_equal(f, a, 0, t);
            CHECK_THROWS_AS(f.name(257), std::out_of_range);
        }
    }
    CHECK(dir.entries() == 1);  // no temporary file left behind
}

TEST_CASE("index file: an empty index and items without labels or names") {
    TempDir dir;
    CodeSet none(64);
    IndexItems it;
    it.codes = none.view();
    write_index(dir.file("e.bin"), it);
    IndexFile f = IndexFile::open(dir.file("e.bin"));
    CHECK(f.size() == 0);
    CodeSet two(64);
    uint64_t c[2] = {5, 6};
    two.add(&c[0]);
    two.add(&c[1]);
    IndexItems more;
    more.codes = two.view();
    append_to_index(dir.file("e.bin"), more);
    IndexFile g = IndexFile::open(dir.file("e.bin"));
    REQUIRE(g.size() == 2);
    CHECK(g.label(1) == -1);
    CHECK(g.name(0).empty());
    CHECK(g.codes().code(1)[0] == 6);
}

TEST_CASE("index file: append keeps the old items and adds the new ones") {
    TempDir dir;
    Rng rng(73);
    for (FeatureType t : {FeatureType::F32, FeatureType::F16}) {
        std::string path = dir.file("grow.bin");
        Items a = make_items(rng, 100, 48, 16, 0), b = make_items(rng, 33, 48, 16, 100), c = make_items(rng, 1, 48, 16, 133);
        IndexWriteOptions wo;
        wo.feature_storage = t;
        write_index(path, a.view(), wo);
        IndexFile before = IndexFile::open(path);  // a reader holding the old version
        append_to_index(path, b.view());
        append_to_index(path, c.view());
        IndexFile f = IndexFile::open(path);
        REQUIRE(f.size() == 134);
        CHECK(f.feature_type() == t);
        check_equal(f, a, 0, t);
        check_equal(f, b, 100, t);
        check_equal(f, c, 133, t);
        // The reader that mapped the old file still sees the old, complete index.
        CHECK(before.size() == 100);
        check_equal(before, a, 0, t);
    }
    CHECK(dir.entries() == 1);
}

TEST_CASE("index file: bad files give clear errors") {
    TempDir dir;
    Rng rng(74);
    Items a = make_items(rng, 50, 64, 8, 0);
    std::string good = dir.file("good.bin");
    write_index(good, a.view());
    const std::vector<char> bytes = read_all(good);
    std::string bad = dir.file("bad.bin");

    SUBCASE("missing file") { check_error([&] { IndexFile::open(dir.file("nope.bin")); }, {"nope.bin", "cannot open: No such file"}); }
    SUBCASE("truncated in the middle") {
        write_all(bad, std::vector<char>(bytes.begin(), bytes.begin() + (long)bytes.size() / 2));
        check_error([&] { IndexFile::open(bad); }, {"bad.bin", "truncated", std::to_string(bytes.size()).c_str()});
    }
    SUBCASE("truncated inside the header") {
        write_all(bad, std::vector<char>(bytes.begin(), bytes.begin() + 100));
        check_error([&] { IndexFile::open(bad); }, {"truncated", "128"});
    }
    SUBCASE("trailing data") {
        auto b = bytes;
        b.push_back(0);
        write_all(bad, b);
        check_error([&] { IndexFile::open(bad); }, {"data after the last section"});
    }
    SUBCASE("not an index") {
        write_all(bad, std::vector<char>(200, 'x'));
        check_error([&] { IndexFile::open(bad); }, {"expected the magic 'DLBHCIDX'", "found 'xxxxxxxx'"});
    }
    SUBCASE("a flipped byte in the codes, labels, names, features, header") {
        // Offsets: codes start at 128; the others from the header.
        uint64_t labels, names, feats;
        std::memcpy(&labels, &bytes[48], 8);
        std::memcpy(&names, &bytes[56], 8);
        std::memcpy(&feats, &bytes[72], 8);
        const std::pair<uint64_t, const char*> spots[] = {
            {130, "codes section"}, {labels + 1, "labels section"}, {names + 8 * 51 + 2, "names section"},
            {feats + 5, "features section"}, {20, "header checksum"}};
        for (const auto& s : spots) {
            auto b = bytes;
            b[s.first] ^= 0x10;
            write_all(bad, b);
            check_error([&] { IndexFile::open(bad); }, {"bad.bin", s.second});
        }
        // Skipping the feature checksum is possible, on request.
        auto b = bytes;
        b[feats + 5] ^= 0x10;
        write_all(bad, b);
        IndexOpenOptions o;
        o.verify = IndexOpenOptions::Verify::SkipFeatures;
        CHECK(IndexFile::open(bad, o).size() == 50);
        o.verify = IndexOpenOptions::Verify::HeaderOnly;
        b[130] ^= 0x10;
        write_all(bad, b);
        CHECK(IndexFile::open(bad, o).size() == 50);
    }
    SUBCASE("a wrong version") {
        for (uint32_t v : {0u, 3u}) {
            auto b = bytes;
            std::memcpy(&b[8], &v, 4);
            uint64_t sum = xxhash64(b.data(), 120);  // a well-formed header of another version
            std::memcpy(&b[120], &sum, 8);
            write_all(bad, b);
            check_error([&] { IndexFile::open(bad); },
                        {("expected format version 1 to 2, found version " + std::to_string(v)).c_str()});
        }
    }
    SUBCASE("a file from a different bit count") {
        IndexOpenOptions o;
        o.expect_bits = 48;
        check_error([&] { IndexFile::open(good, o); }, {"good.bin", "expected 48-bit codes, found 64-bit codes"});
        Items other = make_items(rng, 5, 48, 8, 0);
        check_error([&] { append_to_index(good, other.view()); }, {"cannot append", "expected 64-bit codes", "found 48-bit"});
        Items nofeat = make_items(rng, 5, 64, 8, 0);
        check_error([&] { append_to_index(good, nofeat.view(false)); }, {"cannot append", "found none"});
        Items dim9 = make_items(rng, 5, 64, 9, 0);
        check_error([&] { append_to_index(good, dim9.view()); }, {"expected 8-d features, found 9-d"});
        CHECK(read_all(good) == bytes);  // refused appends leave the file as it was
    }
    SUBCASE("appending to a damaged index is refused") {
        auto b = bytes;
        b[131] ^= 1;
        write_all(bad, b);
        Items more = make_items(rng, 5, 64, 8, 0);
        check_error([&] { append_to_index(bad, more.view()); }, {"checksum mismatch"});
        CHECK(read_all(bad) == b);
    }
}

TEST_CASE("index file: a failed write leaves the old index intact") {
    TempDir dir;
    Rng rng(75);
    std::string path = dir.file("keep.bin");
    Items a = make_items(rng, 40, 64, 8, 0);
    write_index(path, a.view());
    const std::vector<char> before = read_all(path);

    // A real write failure: limit the size of files this process may write (RLIMIT_FSIZE) below
    // the size of the new index, so write() fails with EFBIG half way through.
    Items big = make_items(rng, 2000, 64, 8, 40);
    struct rlimit old_lim;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old_lim) == 0);
    void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old_lim;
    lim.rlim_cur = (rlim_t)before.size() + 4096;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    std::string msg;
    try {
        append_to_index(path, big.view());
    } catch (const std::runtime_error& e) {
        msg = e.what();
    }
    try {
        write_index(path, big.view());
    } catch (const std::runtime_error& e) {
        msg += e.what();
    }
    // Into a folder that does not exist: the writer makes it, and removes it again on failure.
    std::string in_new_folder;
    try {
        write_index(dir.file("no/such/dir/x.bin"), big.view());
    } catch (const std::runtime_error& e) {
        in_new_folder = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old_lim);
    std::signal(SIGXFSZ, old_handler);
    CAPTURE(msg);
    CHECK(msg.find("keep.bin") != std::string::npos);
    CHECK(msg.find("unchanged") != std::string::npos);
    CHECK(read_all(path) == before);
    CHECK(IndexFile::open(path).size() == 40);
    CHECK(in_new_folder.find("File too large") != std::string::npos);
    CHECK(dir.entries() == 1);  // the temporaries and the folders made for the failed write were removed
}

// ------------------------------------------------------------------------------------------
// Headers that are well formed (the header checksum is valid) but whose contents are
// inconsistent: a crafted or buggy file. Each must be refused with a clear exception naming the
// field, never a crash, whatever the verification level.

namespace {

uint64_t get64_at(const std::vector<char>& b, size_t off) {
    uint64_t v;
    std::memcpy(&v, &b[off], 8);
    return v;
}
void put64_at(std::vector<char>& b, size_t off, uint64_t v) { std::memcpy(&b[off], &v, 8); }
void put32_at(std::vector<char>& b, size_t off, uint32_t v) { std::memcpy(&b[off], &v, 4); }
// Recomputes the header checksum (bytes 0..119) after tampering, as a forger would.
void reseal(std::vector<char>& b) { put64_at(b, 120, xxhash64(b.data(), 120)); }

const IndexOpenOptions::Verify kAllVerify[] = {IndexOpenOptions::Verify::Full, IndexOpenOptions::Verify::SkipFeatures,
                                               IndexOpenOptions::Verify::HeaderOnly};
std::string verify_name(IndexOpenOptions::Verify v) {
    return v == IndexOpenOptions::Verify::Full ? "Full" : v == IndexOpenOptions::Verify::SkipFeatures ? "SkipFeatures" : "HeaderOnly";
}

// Writes b to `path` and checks that opening it throws a std::exception whose message names the
// file and contains every fragment, with each verification level in `levels`.
void check_refused(const std::string& path, const std::vector<char>& b, std::initializer_list<const char*> fragments,
                   std::initializer_list<IndexOpenOptions::Verify> levels = {IndexOpenOptions::Verify::Full,
                                                                             IndexOpenOptions::Verify::SkipFeatures,
                                                                             IndexOpenOptions::Verify::HeaderOnly}) {
    write_all(path, b);
    const std::string file = path.substr(path.rfind('/') + 1);
    for (auto v : levels) {
        CAPTURE(verify_name(v));
        IndexOpenOptions o;
        o.verify = v;
        try {
            IndexFile f = IndexFile::open(path, o);
            FAIL("opened: n = " << f.size() << ", D = " << f.feature_dim() << ", bits = " << f.bits());
        } catch (const std::exception& e) {
            std::string msg = e.what();
            CAPTURE(msg);
            CHECK(msg.find(file) != std::string::npos);
            for (const char* frag : fragments) CHECK(msg.find(frag) != std::string::npos);
        }
    }
}

}  // namespace

TEST_CASE("index file: a 32-bit dimension of 0xFFFFFFFF cannot wrap the layout (review: SIGBUS)") {
    // The reviewer's file (/tmp/review-search/exp/evil.cpp): one 64-bit code without features,
    // then D = 0xFFFFFFFF, type float32 and the offsets that the int cast (D = -1) wrapped to:
    // N * D * 4 = -4 bytes of features, so features at 320 and a file of 316 bytes. Before the
    // fix every offset check passed: Full read past the mapping (SIGBUS), SkipFeatures and
    // HeaderOnly opened with feature_dim() == -1.
    TempDir dir;
    CodeSet cs(64);
    uint64_t c = 5;
    cs.add(&c);
    IndexItems it;
    it.codes = cs.view();
    write_index(dir.file("base.bin"), it);
    auto b = read_all(dir.file("base.bin"));
    REQUIRE(b.size() == 272);
    put32_at(b, 32, 0xFFFFFFFFu);  // D
    put32_at(b, 36, 1);            // float32
    put64_at(b, 72, 320);          // features offset
    put64_at(b, 80, 316);          // file size
    put64_at(b, 112, 0);           // features checksum
    b.resize(316, 0);
    reseal(b);
    check_refused(dir.file("evil.bin"), b, {"'D'", "4294967295"});
    // Just above INT_MAX, and the largest signed value with a layout that matches it: the second
    // passes the field checks, and is refused because the file does not have the bytes.
    put32_at(b, 32, 0x80000000u);
    reseal(b);
    check_refused(dir.file("evil.bin"), b, {"'D'", "2147483648"});
    put32_at(b, 32, 0x7FFFFFFFu);
    put64_at(b, 80, 320 + 0x7FFFFFFFull * 4);
    reseal(b);
    check_refused(dir.file("evil.bin"), b, {"truncated", "8589934908", "316"});
    // The same with float16.
    put32_at(b, 32, 0xFFFFFFFFu);
    put32_at(b, 36, 2);
    put64_at(b, 80, 318);
    reseal(b);
    check_refused(dir.file("evil.bin"), b, {"'D'", "4294967295"});
}

TEST_CASE("index file: inconsistent headers with a valid header checksum give clear errors") {
    TempDir dir;
    Rng rng(76);
    Items a = make_items(rng, 50, 64, 8, 0);
    std::string good = dir.file("good.bin");
    write_index(good, a.view());
    const std::vector<char> bytes = read_all(good);
    const uint64_t size = bytes.size();
    const uint64_t labels = get64_at(bytes, 48), names = get64_at(bytes, 56), name_bytes = get64_at(bytes, 64),
                   feats = get64_at(bytes, 72);
    REQUIRE(labels == 576);  // codes end at 128 + 50 * 8 = 528: 48 bytes of padding
    REQUIRE(names == 832);   // labels end at 576 + 200 = 776: 56 bytes of padding
    REQUIRE(get64_at(bytes, 80) == size);
    REQUIRE(feats + 50 * 8 * 4 == size);
    const uint64_t names_end = names + 51 * 8 + name_bytes;
    REQUIRE(feats > names_end);  // there is padding before the features (the test needs it)
    for (auto v : kAllVerify) {  // the untouched file opens at every level
        IndexOpenOptions o;
        o.verify = v;
        CHECK(IndexFile::open(good, o).size() == 50);
    }
    std::string bad = dir.file("bad.bin");
    auto tamper = [&](size_t off, uint64_t v, int width = 8) {
        auto b = bytes;
        if (width == 8) put64_at(b, off, v);
        else put32_at(b, off, (uint32_t)v);
        reseal(b);
        return b;
    };

    SUBCASE("huge item count N") {
        check_refused(bad, tamper(16, 1ull << 40), {"'N'", "2^32", "1099511627776"});
        check_refused(bad, tamper(16, ~0ull), {"'N'", "18446744073709551615"});
        check_refused(bad, tamper(16, 0xFFFFFFFEull), {"'N'", "4294967294"});  // < 2^32, but not in this file
        check_refused(bad, tamper(16, size), {"'N'"});
        // One more item than written: plausible, but the sections computed from it do not match.
        check_refused(bad, tamper(16, 51), {"N = 51", "expected", "found"});
    }
    SUBCASE("huge or wrong name text size") {
        check_refused(bad, tamper(64, 1ull << 62), {"'name text bytes'", "4611686018427387904"});
        check_refused(bad, tamper(64, ~0ull), {"'name text bytes'", "18446744073709551615"});
        check_refused(bad, tamper(64, size), {"name bytes = " , "expected", "found"});
        // A huge text size with every offset and the file size made to agree with it: the file
        // does not have the bytes.
        auto b = bytes;
        const uint64_t huge = 1ull << 40, f_off = (names + 51 * 8 + huge + 63) / 64 * 64;
        put64_at(b, 64, huge);
        put64_at(b, 72, f_off);
        put64_at(b, 80, f_off + 50 * 8 * 4);
        reseal(b);
        check_refused(bad, b, {"truncated", std::to_string(f_off + 50 * 8 * 4).c_str(), "name bytes = 1099511627776",
                               ("the file has " + std::to_string(size)).c_str()});
        // One more byte of text fits in the padding before the features: the layout is the same,
        // the last name offset disagrees.
        check_refused(bad, tamper(64, name_bytes + 1), {"name offsets", ("from 0 to " + std::to_string(name_bytes + 1)).c_str()});
        check_refused(bad, tamper(64, name_bytes - 1), {"name offsets", ("from 0 to " + std::to_string(name_bytes - 1)).c_str()});
    }
    SUBCASE("bits, words, type, dimension and header size out of range") {
        check_refused(bad, tamper(24, 0, 4), {"bits", "found 0 bits"});
        check_refused(bad, tamper(24, 70000, 4), {"bits", "70000"});
        check_refused(bad, tamper(24, 0xFFFFFFFFu, 4), {"bits", "4294967295"});
        check_refused(bad, tamper(28, 2, 4), {"words", "found 64 bits and 2 words"});
        check_refused(bad, tamper(28, 0xFFFFFFFFu, 4), {"words", "4294967295"});
        check_refused(bad, tamper(36, 3, 4), {"feature type", "found type 3"});
        check_refused(bad, tamper(36, 0, 4), {"feature type", "found type 0 and dimension 8"});
        check_refused(bad, tamper(32, 0, 4), {"feature type", "found type 1 and dimension 0"});
        check_refused(bad, tamper(32, 0xFFFFFFFFu, 4), {"'D'", "4294967295"});
        check_refused(bad, tamper(32, 9, 4), {"D = 9", "expected", "found"});
        check_refused(bad, tamper(12, 0xFFFFFFFFu, 4), {"128-byte header", "4294967295"});
    }
    SUBCASE("section offsets past the end of the file") {
        check_refused(bad, tamper(40, size + 64), {"'codes offset'", "expected 128", std::to_string(size + 64).c_str()});
        check_refused(bad, tamper(48, size + 64), {"'labels offset'", "expected 576", std::to_string(size + 64).c_str()});
        check_refused(bad, tamper(56, ~0ull), {"'names offset'", "expected 832", "18446744073709551615"});
        check_refused(bad, tamper(72, 1ull << 63), {"'features offset'", "9223372036854775808"});
    }
    SUBCASE("overlapping and mis-ordered section offsets") {
        check_refused(bad, tamper(40, 0), {"'codes offset'", "expected 128 (", "found 0 "});  // over the header
        check_refused(bad, tamper(48, 128), {"'labels offset'", "expected 576 (", "found 128 "});  // on the codes
        check_refused(bad, tamper(48, 512), {"'labels offset'", "expected 576 (", "found 512 "});  // inside the codes
        check_refused(bad, tamper(56, 320), {"'names offset'", "expected 832 (", "found 320 "});   // before the labels
        check_refused(bad, tamper(72, 64), {"'features offset'", "found 64"});
        check_refused(bad, tamper(72, names), {"'features offset'", ("found " + std::to_string(names)).c_str()});
        check_refused(bad, tamper(72, 0), {"'features offset'", "found 0"});  // "no features", with a type and D
        // Labels and names swapped.
        auto b = bytes;
        put64_at(b, 48, names);
        put64_at(b, 56, labels);
        reseal(b);
        check_refused(bad, b, {"'labels offset'", "expected 576 (", "found 832 "});
    }
    SUBCASE("a file-size field that disagrees with the real size") {
        check_refused(bad, tamper(80, size + 64), {"'file size'", std::to_string(size).c_str(),
                                                   std::to_string(size + 64).c_str()});
        check_refused(bad, tamper(80, size - 64), {"'file size'", std::to_string(size - 64).c_str()});
        check_refused(bad, tamper(80, 0), {"'file size'", "found 0"});
        check_refused(bad, tamper(80, ~0ull), {"'file size'", "18446744073709551615"});
        // Consistent header, but the file on disk is longer or shorter.
        auto longer = bytes;
        longer.resize(size + 64, 0);
        check_refused(bad, longer, {"data after the last section", std::to_string(size + 64).c_str()});
        auto shorter = bytes;
        shorter.resize(size - 1);
        check_refused(bad, shorter, {"truncated", std::to_string(size).c_str(), std::to_string(size - 1).c_str()});
    }
    SUBCASE("non-zero padding between sections") {
        // Padding is outside every checksum: the reader checks it byte by byte (not in HeaderOnly).
        const std::pair<uint64_t, const char*> spots[] = {{528, "between the codes and labels"},
                                                          {575, "between the codes and labels"},
                                                          {776, "between the labels and names"},
                                                          {names_end, "between the names and features"},
                                                          {feats - 1, "between the names and features"}};
        for (const auto& s : spots) {
            CAPTURE(s.first);
            auto b = bytes;
            b[s.first] = 0x5a;
            check_refused(bad, b, {"padding", s.second, std::to_string(s.first).c_str(), "0x5a"},
                          {IndexOpenOptions::Verify::Full, IndexOpenOptions::Verify::SkipFeatures});
        }
    }
    SUBCASE("name offsets out of order, not from 0, or not ending at the text size") {
        // The names section is re-checksummed too: only the offsets' own check can catch these.
        auto with_offsets = [&](uint64_t i, uint64_t v) {
            auto b = bytes;
            put64_at(b, names + 8 * i, v);
            put64_at(b, 104, xxhash64(&b[names], (size_t)(51 * 8 + name_bytes)));
            reseal(b);
            return b;
        };
        // Items 12 and 13 have non-empty names (make_items leaves i % 7 == 3 empty).
        const uint64_t off12 = get64_at(bytes, names + 8 * 12), off13 = get64_at(bytes, names + 8 * 13);
        REQUIRE(off13 > off12);
        const std::initializer_list<IndexOpenOptions::Verify> checked = {IndexOpenOptions::Verify::Full,
                                                                          IndexOpenOptions::Verify::SkipFeatures};
        check_refused(bad, with_offsets(13, off12 - 1), {"name offsets", "item 12"}, checked);
        check_refused(bad, with_offsets(12, ~0ull), {"name offsets", "item 12", "18446744073709551615"}, checked);
        // The first and last offsets are two words: checked at every level, HeaderOnly too.
        check_refused(bad, with_offsets(0, 1), {"name offsets", "from 0", "found 1 to"});
        check_refused(bad, with_offsets(50, name_bytes + 1), {"name offsets", std::to_string(name_bytes + 1).c_str()});
        check_refused(bad, with_offsets(50, ~0ull), {"name offsets", "18446744073709551615"});
        // HeaderOnly does not read the sections; name() still refuses the damaged offsets.
        write_all(bad, with_offsets(13, off12 - 1));
        IndexOpenOptions o;
        o.verify = IndexOpenOptions::Verify::HeaderOnly;
        IndexFile f = IndexFile::open(bad, o);
        CHECK(f.name(11) == a.names[11]);
        CHECK_THROWS_AS(f.name(12), std::out_of_range);
        write_all(bad, with_offsets(12, ~0ull));
        IndexFile g = IndexFile::open(bad, o);
        CHECK_THROWS_AS(g.name(11), std::out_of_range);
        CHECK_THROWS_AS(g.name(12), std::out_of_range);
    }
}

TEST_CASE("index file: codes with unused high bits set are refused by open and by the writers (a distance above B)") {
    // A crafted file: valid checksums everywhere, but item 7 has bits 48..63 of its 48-bit code
    // set. Before the fix it opened, and `dlbhc eval` overflowed the distance counters of the
    // ranking (heap overflow) while `dlbhc query` reported its distances 16 too high.
    TempDir dir;
    Rng rng(77);
    for (int bits : {48, 130}) {
        CAPTURE(bits);
        Items a = make_items(rng, 20, bits, 4, 0);
        const std::string good = dir.file("good.bin"), bad = dir.file("bad.bin");
        write_index(good, a.view());
        auto b = read_all(good);
        const int W = a.codes.words();
        const size_t word = 128 + (7 * (size_t)W + (size_t)W - 1) * 8;  // item 7's last word
        const uint64_t dirty = get64_at(b, word) | (1ull << 63) | (1ull << (bits % 64));
        put64_at(b, word, dirty);
        put64_at(b, 88, xxhash64(&b[128], 20 * (size_t)W * 8));  // the codes' checksum, as a forger would
        reseal(b);
        char found[19];
        std::snprintf(found, sizeof found, "0x%016llx", (unsigned long long)dirty);
        const std::string what = "item 7: expected bits " + std::to_string(bits % 64) + "..63 of word " +
                                 std::to_string(W - 1) + " (unused by " + std::to_string(bits) +
                                 "-bit codes) to be zero, found " + found;
        check_refused(bad, b, {what.c_str()}, {IndexOpenOptions::Verify::Full, IndexOpenOptions::Verify::SkipFeatures});
        // HeaderOnly reads no section (documented): it opens, and the search stays in bounds.
        IndexOpenOptions o;
        o.verify = IndexOpenOptions::Verify::HeaderOnly;
        CHECK(IndexFile::open(bad, o).size() == 20);
        // Appending to it is refused (the old index is fully verified), the file left as it was.
        Items more = make_items(rng, 3, bits, 4, 20);
        check_error([&] { append_to_index(bad, more.view()); }, {"bad.bin", what.c_str()});
        CHECK(read_all(bad) == b);

        // The writers refuse such codes instead of writing a file the reader refuses.
        std::vector<uint64_t> raw = a.codes.raw();
        raw[(size_t)3 * W + W - 1] |= 1ull << 63;
        Items dirty_items = a;
        IndexItems it = dirty_items.view();
        it.codes = CodeView{raw.data(), a.codes.size(), bits, W};
        const std::string item3 = "item 3: expected bits " + std::to_string(bits % 64) + "..63 of word " + std::to_string(W - 1);
        check_error([&] { write_index(dir.file("new.bin"), it); }, {"new.bin", item3.c_str()});
        check_error([&] { append_to_index(good, it); }, {"good.bin", item3.c_str()});
        CHECK(IndexFile::open(good).size() == 20);
        CHECK(dir.entries() == 2);  // good.bin, bad.bin: nothing half-written
    }
}

TEST_CASE("index file: non-finite features (valid checksums) are refused on open and by the writers, naming the item") {
    // A NaN or an infinity makes every distance to the item NaN, so it would drop out of every
    // fine search without a word; its checksum is valid when a forger recomputes it.
    TempDir dir;
    Rng rng(31);
    for (FeatureType t : {FeatureType::F32, FeatureType::F16}) {
        const std::string type = feature_type_name(t);
        CAPTURE(type);
        Items a = make_items(rng, 6, 20, 5, 0);
        const std::string good = dir.file("good.bin"), bad = dir.file("bad.bin");
        IndexWriteOptions wo;
        wo.feature_storage = t;
        write_index(good, a.view(), wo);
        for (float poison : {std::nanf(""), INFINITY, -INFINITY}) {
            CAPTURE(poison);
            auto b = read_all(good);
            const size_t features = (size_t)get64_at(b, 72), esize = feature_type_bytes(t);
            const size_t at = features + (4 * 5 + 2) * esize;  // item 4, feature 2
            if (t == FeatureType::F32) {
                std::memcpy(&b[at], &poison, 4);
            } else {
                const uint16_t h = float_to_half(poison);
                std::memcpy(&b[at], &h, 2);
            }
            put64_at(b, 112, xxhash64(&b[features], b.size() - features));  // features come last
            reseal(b);
            const std::string what = std::string("item 4, feature 2 (of 5): expected a finite ") + feature_type_name(t) + " value";
            check_refused(bad, b, {what.c_str()}, {IndexOpenOptions::Verify::Full});
            // The lower levels trust the features (documented): they open it.
            IndexOpenOptions o;
            o.verify = IndexOpenOptions::Verify::SkipFeatures;
            CHECK(IndexFile::open(bad, o).size() == 6);
            check_error([&] { append_to_index(bad, make_items(rng, 1, 20, 5, 6).view()); }, {"bad.bin", what.c_str()});
        }
        // The writers refuse non-finite features, naming the item and the feature.
        Items poisoned = a;
        poisoned.feats[3 * 5 + 1] = std::nanf("");
        check_error([&] { write_index(dir.file("new.bin"), poisoned.view(), wo); },
                    {"new.bin", "item 3, feature 1 (of 5): expected a finite value, found nan"});
        check_error([&] { append_to_index(good, poisoned.view()); }, {"good.bin", "item 3, feature 1 (of 5)"});
        // float16 storage: a finite float32 too large for float16 would become an infinity.
        Items large = a;
        large.feats[2 * 5 + 4] = 70000.0f;
        if (t == FeatureType::F16) {
            check_error([&] { write_index(dir.file("new.bin"), large.view(), wo); },
                        {"new.bin", "item 2, feature 4 (of 5): expected a magnitude below 65520 to store it as float16, found 70000"});
            check_error([&] { append_to_index(good, large.view()); }, {"good.bin", "item 2, feature 4 (of 5)"});
        } else {
            write_index(dir.file("new.bin"), large.view(), wo);  // float32 holds it
            CHECK(IndexFile::open(dir.file("new.bin")).size() == 6);
            ::unlink(dir.file("new.bin").c_str());
        }
        CHECK(IndexFile::open(good).size() == 6);
        ::unlink(bad.c_str());
        CHECK(dir.entries() == 1);  // good.bin: nothing half-written
        ::unlink(good.c_str());
    }
}
