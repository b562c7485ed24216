// tests/test_index_file.cpp -- the index file: round trip, append, and every kind of bad file.
#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

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
#include "search/xxhash64.h"

using namespace dlbhc;

namespace {

// A scratch folder unique to this process, removed (with its files) at the end of each test.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/dlbhc_test_index_XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() {
        for (const auto& f : names()) ::unlink((path + "/" + f).c_str());
        ::rmdir(path.c_str());
    }
    std::string file(const std::string& name) const { return path + "/" + name; }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        if (DIR* d = ::opendir(path.c_str())) {
            while (dirent* e = ::readdir(d))
                if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.push_back(e->d_name);
            ::closedir(d);
        }
        return out;
    }
    size_t entries() const { return names().size(); }  // leftover temporaries show up here
};

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

    SUBCASE("missing file") { check_error([&] { IndexFile::open(dir.file("nope.bin")); }, {"nope.bin", "expected a readable file"}); }
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
        auto b = bytes;
        uint32_t v = 2;
        std::memcpy(&b[8], &v, 4);
        uint64_t sum = xxhash64(b.data(), 120);  // a well-formed header of a future version
        std::memcpy(&b[120], &sum, 8);
        write_all(bad, b);
        check_error([&] { IndexFile::open(bad); }, {"expected format version 1, found version 2"});
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
    setrlimit(RLIMIT_FSIZE, &old_lim);
    std::signal(SIGXFSZ, old_handler);
    CAPTURE(msg);
    CHECK(msg.find("keep.bin") != std::string::npos);
    CHECK(msg.find("unchanged") != std::string::npos);
    CHECK(read_all(path) == before);
    CHECK(IndexFile::open(path).size() == 40);
    CHECK(dir.entries() == 1);  // the temporaries were removed
    // A folder that does not exist: nothing is created.
    check_error([&] { write_index(dir.file("no/such/dir/x.bin"), a.view()); }, {"temporary file"});
}
