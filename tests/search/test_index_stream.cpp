// tests/search/test_index_stream.cpp -- the index writer that takes its items a batch at a time
// (IndexWriter): the bytes it writes are those the whole-index writer wrote before it (pinned by
// checksums of files that writer made), whatever the batches, for new indexes, appends and merges.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "hash/code.h"
#include "io/xxhash64.h"
#include "nn/rng.h"
#include "search/index_file.h"
#include "search/provenance.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::TempDir;

namespace {

// Deterministic items: codes of `bits` bits, labels, names of varied lengths (some empty), features.
struct StreamItems {
    CodeSet codes;
    std::vector<int32_t> labels;
    std::vector<std::string> names;
    std::vector<float> feats;
    int dim = 0;
    IndexItems view(size_t from, size_t count, std::vector<std::string>& names_part) const {
        IndexItems it;
        it.codes = CodeView{codes.code(from), count, codes.bits(), codes.words()};
        it.labels = labels.data() + from;
        names_part.assign(names.begin() + (long)from, names.begin() + (long)(from + count));
        it.names = &names_part;
        if (dim) {
            it.features = feats.data() + from * (size_t)dim;
            it.feature_dim = dim;
        }
        return it;
    }
};

StreamItems stream_items(uint64_t seed, size_t n, int bits, int dim) {
    Rng rng(seed);
    StreamItems it;
    it.codes = CodeSet(bits);
    it.dim = dim;
    for (size_t i = 0; i < n; ++i) {
        std::vector<uint64_t> c((size_t)it.codes.words());
        for (auto& w : c) w = rng.next_u64();
        if (bits % 64) c.back() &= (1ull << (bits % 64)) - 1;
        it.codes.add(c.data());
        it.labels.push_back((int32_t)rng.below(10));
        it.names.push_back(i % 5 == 2 ? "" : "set/" + std::string(1 + rng.below(40), 'a' + (char)(i % 26)) + std::to_string(i));
    }
    it.feats.resize(n * (size_t)dim);
    for (auto& v : it.feats) v = rng.gaussian(0, 1);
    return it;
}

Provenance test_provenance(const std::string& data) {
    Provenance p;
    p.set("net.name", "StreamNet");
    p.set("weights.hash", "0123456789abcdef");
    p.add_source(DataSource{data, "", 1000});
    return p;
}

uint64_t file_checksum(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    const std::string b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    REQUIRE(!b.empty());
    return xxhash64(b.data(), b.size());
}

// The files of the golden cases, written with write_index, append_to_index and merge_indexes:
// 48-bit codes with 20-d float32 features; 130-bit codes with float16 features; codes only.
struct Golden {
    std::string f32, f16, none, appended, merged;
};

Golden write_golden(const TempDir& d) {
    Golden g{d.file("f32.idx"), d.file("f16.idx"), d.file("none.idx"), d.file("app.idx"), d.file("merged.idx")};
    const Provenance prov = test_provenance("data/a");
    std::vector<std::string> names;
    const StreamItems a = stream_items(1, 700, 48, 20), b = stream_items(2, 333, 130, 7), c = stream_items(3, 90, 5, 0);
    IndexItems ia = a.view(0, 700, names);
    ia.provenance = &prov;
    write_index(g.f32, ia);
    std::vector<std::string> nb;
    IndexWriteOptions half;
    half.feature_storage = FeatureType::F16;
    write_index(g.f16, b.view(0, 333, nb), half);
    std::vector<std::string> nc;
    write_index(g.none, c.view(0, 90, nc));
    // An append of 250 more items to a copy of f32, and the merge of f32 with that.
    write_index(g.appended, ia);
    const StreamItems more = stream_items(4, 250, 48, 20);
    std::vector<std::string> nm;
    IndexItems im = more.view(0, 250, nm);
    const Provenance prov2 = test_provenance("data/b");
    im.provenance = &prov2;
    append_to_index(g.appended, im);
    merge_indexes(g.merged, {g.f32, g.appended});
    return g;
}

}  // namespace

// The checksums of the golden files as the whole-index writer (before IndexWriter) wrote them.
const uint64_t kGoldenSums[] = {0xe006c23453b892d1ull, 0x1984c9c43712d16bull, 0x72fdc224a2dda7dcull,
                                0xb004c91d76006cbbull, 0x5984cc66685b2429ull};

TEST_CASE("index writer: write_index, append_to_index and merge_indexes write the bytes they wrote before streaming") {
    TempDir d;
    const Golden g = write_golden(d);
    const std::string files[] = {g.f32, g.f16, g.none, g.appended, g.merged};
    for (int i = 0; i < 5; ++i) {
        CAPTURE(files[i]);
        CHECK(file_checksum(files[i]) == kGoldenSums[i]);
    }
}

TEST_CASE("index writer: any split into batches writes the same bytes, for new indexes and appends") {
    TempDir d;
    const Golden g = write_golden(d);
    const StreamItems a = stream_items(1, 700, 48, 20), b = stream_items(2, 333, 130, 7);
    const Provenance prov = test_provenance("data/a");
    for (size_t batch : {1, 7, 100, 699, 700}) {
        CAPTURE(batch);
        IndexShape shape;
        shape.n = 700, shape.bits = 48, shape.feature_dim = 20;
        for (const auto& s : a.names) shape.name_bytes += s.size();
        const std::string out = d.file("s32.idx");
        {
            IndexWriter w(out, shape, {}, &prov);
            std::vector<std::string> names;
            for (size_t at = 0; at < 700; at += batch) w.add(a.view(at, std::min(batch, 700 - at), names));
            CHECK(w.added() == 700);
            w.commit();
        }
        CHECK(file_checksum(out) == kGoldenSums[0]);
        IndexShape hs;
        hs.n = 333, hs.bits = 130, hs.feature_dim = 7;
        for (const auto& s : b.names) hs.name_bytes += s.size();
        IndexWriteOptions half;
        half.feature_storage = FeatureType::F16;
        const std::string out16 = d.file("s16.idx");
        {
            IndexWriter w(out16, hs, half);
            std::vector<std::string> names;
            for (size_t at = 0; at < 333; at += batch) w.add(b.view(at, std::min(batch, 333 - at), names));
            w.commit();
        }
        CHECK(file_checksum(out16) == kGoldenSums[1]);
        // Appending in batches to a copy of f32.
        const std::string app = d.file("sapp.idx");
        std::vector<std::string> all_names;
        IndexItems ia = a.view(0, 700, all_names);
        ia.provenance = &prov;
        write_index(app, ia);
        const StreamItems more = stream_items(4, 250, 48, 20);
        IndexShape ms;
        ms.n = 250, ms.bits = 48, ms.feature_dim = 20;
        for (const auto& s : more.names) ms.name_bytes += s.size();
        const Provenance prov2 = test_provenance("data/b");
        {
            IndexWriter w = IndexWriter::append(app, ms, &prov2);
            CHECK(w.added() == 700);
            std::vector<std::string> names;
            for (size_t at = 0; at < 250; at += batch) w.add(more.view(at, std::min(batch, 250 - at), names));
            w.commit();
        }
        CHECK(file_checksum(app) == kGoldenSums[3]);
    }
}

TEST_CASE("index writer: fewer or more items than announced are refused and leave the old index as it was") {
    TempDir d;
    const StreamItems a = stream_items(5, 50, 16, 4);
    const std::string out = d.file("x.idx");
    std::vector<std::string> names;
    write_index(out, a.view(0, 50, names));
    const uint64_t before = file_checksum(out);
    IndexShape shape;
    shape.n = 50, shape.bits = 16, shape.feature_dim = 4;
    for (const auto& s : a.names) shape.name_bytes += s.size();
    {
        IndexWriter w(out, shape);
        w.add(a.view(0, 49, names));
        CHECK_THROWS_WITH_AS(w.commit(), doctest::Contains("49 items"), std::logic_error);
    }
    {
        IndexWriter w(out, shape);
        w.add(a.view(0, 50, names));
        CHECK_THROWS_AS(w.add(a.view(0, 1, names)), std::logic_error);
    }
    {
        IndexWriter w(out, shape);
        CHECK_THROWS_WITH_AS(w.add(stream_items(6, 3, 17, 4).view(0, 3, names)), doctest::Contains("expected 16-bit codes"),
                             std::invalid_argument);
    }
    CHECK(file_checksum(out) == before);
    CHECK(dlbhc::test::list_folder(d.path) == std::vector<std::string>{"x.idx"});
}
