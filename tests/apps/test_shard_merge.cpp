// tests/apps/test_shard_merge.cpp -- `--shard I/N` for encode and index, and `dlbhc merge`: the split
// is a partition of the dataset into contiguous ranges; merging the shard indexes in order gives
// the unsharded index byte for byte (and the shard outputs of encode concatenate to its unsharded
// outputs); a shard run twice gives the same file; merge refuses incompatible inputs naming the
// file and leaves OUT untouched.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "data/shard.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/npy.h"
#include "formats/weights_file.h"
#include "search/index_file.h"
#include "tests/support/commands.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::plus;
using dlbhc::test::TempDir;

using dlbhc::test::error_of;
using dlbhc::test::has;
using dlbhc::test::quietly;
using dlbhc::test::read_all;

namespace {

// The tiny net (tests/support/tiny_net.h): fc7 32 (the features), latent 12 + sigmoid (not a multiple of 8
// or 64), 4 classes; TEST batch 16, so the shards' batches start at other items than the
// unsharded run's.
const std::string kNet = test::tiny_net_prototxt({"ShardNet", "train", 16, 16, 32, 12, 4});

// A scratch folder with the net, weights drawn from its fillers and MNIST-format datasets of
// random images (names "train[i]", labels 0..3).
struct Setup {
    TempDir dir;
    std::string net, weights;
    Setup() {
        net = dir.file("net.prototxt");
        test::write_text(net, kNet);
        weights = dir.file("w.weights");
        test::write_filler_weights(net, weights, 7);
    }
    // DIR/<name>/train-{images,labels}: `items` random images; returns the dataset spec.
    std::string dataset(const std::string& name, uint32_t items, unsigned seed) const {
        return test::write_random_mnist(dir, name, items, seed);
    }
    std::vector<std::string> index_args(const std::string& data, const std::string& out) const {
        return {"--net", net, "--weights", weights, "--data", data, "--out", out};
    }
    std::vector<std::string> encode_args(const std::string& data, const std::string& out) const {
        return {"--net", net, "--weights", weights, "--data", data, "--out", out};
    }
};

std::string shard_name(size_t i, size_t n) { return std::to_string(i) + "/" + std::to_string(n); }

// An index of `count` items of `bits`-bit codes (item i's code is i), labels i % 3, names
// "<tag>i" and `dim`-d features (0: none) stored as `t`.
void make_index(const std::string& path, int bits, int dim, size_t count, const std::string& tag,
                FeatureType t = FeatureType::F32) {
    CodeSet codes(bits);
    std::vector<uint64_t> code(size_t(code_words(bits)), 0);
    std::vector<int32_t> labels;
    std::vector<std::string> names;
    for (size_t i = 0; i < count; ++i) {
        code[0] = i & (bits >= 64 ? ~0ull : (1ull << bits) - 1);
        codes.add(code.data());
        labels.push_back(int32_t(i % 3));
        names.push_back(tag + std::to_string(i));
    }
    std::vector<float> feats(count * size_t(dim));
    for (size_t i = 0; i < feats.size(); ++i) feats[i] = float(i) * 0.25f;
    IndexItems items;
    items.codes = codes.view();
    items.labels = labels.data();
    items.names = &names;
    items.features = dim ? feats.data() : nullptr;
    items.feature_dim = dim;
    IndexWriteOptions wo;
    wo.feature_storage = t;
    write_index(path, items, wo);
}

}  // namespace

TEST_CASE("shard: contiguous ranges partition 0..M-1 with no gap or overlap, sizes within one, for N > M too") {
    for (size_t m : {0, 1, 2, 3, 5, 7, 10, 40, 1000, 1001})
        for (size_t n : {1, 2, 3, 4, 7, 11, 50, 2000}) {
            CAPTURE(m);
            CAPTURE(n);
            size_t next = 0, smallest = SIZE_MAX, largest = 0;
            for (size_t i = 0; i < n; ++i) {
                const ItemRange r = shard_range(m, ShardSpec{i, n});
                REQUIRE(r.begin == next);  // no gap, no overlap, in order
                REQUIRE(r.end >= r.begin);
                next = r.end;
                smallest = std::min(smallest, r.size());
                largest = std::max(largest, r.size());
            }
            CHECK(next == m);
            CHECK(largest - smallest <= 1);
            CHECK(largest == (m + n - 1) / n);
        }
    // The products do not overflow: exact for the largest sizes.
    CHECK(shard_range(SIZE_MAX, ShardSpec{1, 2}).begin == SIZE_MAX / 2);
    CHECK(shard_range(SIZE_MAX, ShardSpec{SIZE_MAX - 1, SIZE_MAX}).begin == SIZE_MAX - 1);
    CHECK(shard_range(SIZE_MAX, ShardSpec{SIZE_MAX - 1, SIZE_MAX}).end == SIZE_MAX);
    CHECK(shard_range(10, ShardSpec{1, 3}).begin == 3);  // floor(10/3)
    CHECK(shard_range(10, ShardSpec{1, 3}).end == 6);    // floor(20/3)
}

TEST_CASE("shard: I/N is parsed strictly, with errors that name the option and the text") {
    CHECK(parse_shard("0/1", "--shard").index == 0);
    CHECK(parse_shard("2/3", "--shard").count == 3);
    CHECK(parse_shard("006/7", "--shard").index == 6);
    for (const char* bad : {"", "1", "/", "1/", "/2", "a/2", "1/b", "-1/2", "+1/2", " 1/2", "1/2 ", "1/2/3", "1.0/2",
                            "0/99999999999999999999999"}) {
        const std::string e = error_of([&] { parse_shard(bad, "--shard"); });
        CHECK_MESSAGE(has(e, "--shard: expected I/N (shard I of N, 0 <= I < N, e.g. 0/4), found '" + std::string(bad) + "'"),
                      e);
    }
    CHECK(has(error_of([] { parse_shard("3/3", "--shard"); }), "I must be below N: shards are numbered 0..2"));
    CHECK(has(error_of([] { parse_shard("0/0", "--shard"); }), "N must be at least 1"));
}

TEST_CASE("shard: a range of a dataset keeps each item's pixels, label and name") {
    auto base = std::make_unique<MemoryDataset>(1, 2, 2, "d", 4);
    for (int i = 0; i < 10; ++i) {
        const uint8_t px[4] = {uint8_t(i), 1, 2, 3};
        base->add(px, i % 4);
    }
    RangeDataset r(std::move(base), ItemRange{3, 7});
    REQUIRE(r.size() == 4);
    Image img;
    for (size_t i = 0; i < 4; ++i) {
        r.item(i, img);
        CHECK(img.pixels[0] == 3 + i);
        CHECK(r.label(i) == int(3 + i) % 4);
        CHECK(r.name(i) == "d[" + std::to_string(3 + i) + "]");
    }
    CHECK(r.num_classes() == 4);
    CHECK_THROWS_AS(r.label(4), std::out_of_range);
    CHECK_THROWS_AS(RangeDataset(std::make_unique<MemoryDataset>(1, 1, 1, "e"), ItemRange{0, 1}), std::out_of_range);
}

TEST_CASE("shard + merge: 3 shard indexes merged in order are byte for byte the unsharded index; shards are deterministic") {
    Setup s;
    const std::string data = s.dataset("a", 40, 11);
    for (bool f16 : {false, true}) {
        CAPTURE(f16);
        const std::vector<std::string> opt = f16 ? std::vector<std::string>{"--f16"} : std::vector<std::string>{};
        const std::string tag = f16 ? "h" : "f";
        const std::string whole = s.dir.file(tag + "whole.idx");
        quietly([&] { REQUIRE(cmd_index(plus(s.index_args(data, whole), opt)) == 0); });
        std::vector<std::string> shards;
        for (size_t i = 0; i < 3; ++i) {
            shards.push_back(s.dir.file(tag + "s" + std::to_string(i) + ".idx"));
            quietly([&] { REQUIRE(cmd_index(plus(s.index_args(data, shards.back()), plus(opt, {"--shard", shard_name(i, 3)}))) == 0); });
        }
        // 40 items: [0, 13), [13, 26), [26, 40).
        CHECK(IndexFile::open(shards[0]).size() == 13);
        CHECK(IndexFile::open(shards[1]).size() == 13);
        CHECK(IndexFile::open(shards[2]).size() == 14);
        CHECK(std::string(IndexFile::open(shards[1]).name(0)) == "train[13]");
        const std::string merged = s.dir.file(tag + "merged.idx");
        quietly([&] { REQUIRE(cmd_merge(plus({merged}, shards)) == 0); });
        CHECK(read_all(merged) == read_all(whole));
        // The same shard again: the same bytes.
        const std::string again = s.dir.file(tag + "s1again.idx");
        quietly([&] { REQUIRE(cmd_index(plus(s.index_args(data, again), plus(opt, {"--shard", "1/3"}))) == 0); });
        CHECK(read_all(again) == read_all(shards[1]));
    }
}

TEST_CASE("shard + merge: more shards than items (empty shards) still merge to the unsharded index") {
    Setup s;
    const std::string data = s.dataset("b", 5, 12);
    const std::string whole = s.dir.file("whole.idx");
    quietly([&] { REQUIRE(cmd_index(plus(s.index_args(data, whole), {"--no-features"})) == 0); });
    std::vector<std::string> shards;
    size_t total = 0;
    for (size_t i = 0; i < 7; ++i) {
        shards.push_back(s.dir.file("s" + std::to_string(i) + ".idx"));
        quietly([&] {
            REQUIRE(cmd_index(plus(s.index_args(data, shards.back()), {"--no-features", "--shard", shard_name(i, 7)})) == 0);
        });
        const IndexFile f = IndexFile::open(shards.back());
        CHECK(f.bits() == 12);  // an empty shard still says what it would hold
        total += f.size();
    }
    CHECK(IndexFile::open(shards[0]).size() == 0);  // floor(1*5/7) = 0
    CHECK(total == 5);
    const std::string merged = s.dir.file("merged.idx");
    quietly([&] { REQUIRE(cmd_merge(plus({merged}, shards)) == 0); });
    CHECK(read_all(merged) == read_all(whole));
}

TEST_CASE("shard + merge: empty shards carry the net's feature layout (float32, --f16, none); merge and --append work") {
    Setup s;
    const std::string data = s.dataset("e", 3, 14);
    for (const std::string mode : {"", "--f16", "--no-features"}) {
        CAPTURE(mode);
        const std::vector<std::string> opt = mode.empty() ? std::vector<std::string>{} : std::vector<std::string>{mode};
        const std::string tag = mode.empty() ? "f32" : mode.substr(2);
        const std::string whole = s.dir.file(tag + "_whole.idx");
        quietly([&] { REQUIRE(cmd_index(plus(s.index_args(data, whole), opt)) == 0); });
        std::vector<std::string> shards;
        for (size_t i = 0; i < 5; ++i) {
            shards.push_back(s.dir.file(tag + "_s" + std::to_string(i) + ".idx"));
            quietly([&] { REQUIRE(cmd_index(plus(s.index_args(data, shards.back()), plus(opt, {"--shard", shard_name(i, 5)}))) == 0); });
            const IndexFile f = IndexFile::open(shards.back());
            const IndexFile w = IndexFile::open(whole);
            CHECK(f.feature_type() == w.feature_type());  // empty or not, the shard says what it holds
            CHECK(f.feature_dim() == w.feature_dim());
        }
        CHECK(IndexFile::open(shards[0]).size() == 0);  // floor(1*3/5) = 0: shard 0 is empty
        const std::string merged = s.dir.file(tag + "_merged.idx");
        quietly([&] { REQUIRE(cmd_merge(plus({merged}, shards)) == 0); });
        CHECK(read_all(merged) == read_all(whole));
        // The dataset appended to an empty shard: the whole index again.
        quietly([&] { REQUIRE(cmd_index(plus(s.index_args(data, shards[0]), plus(opt, {"--append"}))) == 0); });
        CHECK(read_all(shards[0]) == read_all(whole));
    }
}

TEST_CASE("shard: encode's shard outputs (codes text, latent and feature .npy) concatenate to the unsharded ones") {
    Setup s;
    const std::string data = s.dataset("c", 23, 13);
    auto encode = [&](const std::string& tag, const std::vector<std::string>& more) {
        quietly([&] {
            REQUIRE(cmd_encode(plus(s.encode_args(data, s.dir.file(tag + ".txt")),
                                    plus({"--latent-npy", s.dir.file(tag + "_latent.npy"), "--features-npy",
                                          s.dir.file(tag + "_feat.npy")},
                                         more))) == 0);
        });
    };
    encode("whole", {});
    std::string text;
    std::vector<float> latent, feat;
    for (size_t i = 0; i < 4; ++i) {
        const std::string tag = "s" + std::to_string(i);
        encode(tag, {"--shard", shard_name(i, 4)});
        text += read_all(s.dir.file(tag + ".txt"));
        const NamedTensor l = read_npy(s.dir.file(tag + "_latent.npy")), f = read_npy(s.dir.file(tag + "_feat.npy"));
        CHECK(l.dims[0] == int64_t(shard_range(23, ShardSpec{i, 4}).size()));
        latent.insert(latent.end(), l.data.begin(), l.data.end());
        feat.insert(feat.end(), f.data.begin(), f.data.end());
    }
    CHECK(text == read_all(s.dir.file("whole.txt")));
    CHECK(latent == read_npy(s.dir.file("whole_latent.npy")).data);
    CHECK(feat == read_npy(s.dir.file("whole_feat.npy")).data);
    // --shard needs a dataset, and a bad shard is refused before anything is read.
    CHECK(has(error_of([&] {
              cmd_encode({"--net", s.net, "--weights", s.weights, "--image", s.dir.file("x.png"), "--shard", "0/2"});
          }),
          "--shard I/N splits a dataset: it needs --data SPEC"));
    CHECK(has(error_of([&] { cmd_index(plus(s.index_args(s.dir.file("missing/train"), s.dir.file("o.idx")), {"--shard", "2/2"})); }),
              "--shard: expected I/N"));
    CHECK(has(error_of([&] { cmd_encode(plus(s.encode_args(s.dir.file("missing/train"), s.dir.file("o.txt")), {"--shard", "x"})); }),
              "--shard: expected I/N"));
}

TEST_CASE("merge: inputs in order, OUT may be an input; incompatible or repeated inputs are refused naming the file") {
    TempDir dir;
    const std::string a = dir.file("a.idx"), b = dir.file("b.idx"), out = dir.file("out.idx");
    make_index(a, 20, 3, 4, "a");
    make_index(b, 20, 3, 2, "b");
    quietly([&] { REQUIRE(cmd_merge({out, b, a}) == 0); });
    {
        const IndexFile m = IndexFile::open(out);
        REQUIRE(m.size() == 6);
        CHECK(std::string(m.name(0)) == "b0");
        CHECK(std::string(m.name(1)) == "b1");
        CHECK(std::string(m.name(2)) == "a0");
        CHECK(std::string(m.name(5)) == "a3");
        CHECK(m.codes().code(3)[0] == 1);
        CHECK(m.label(4) == 2);
        CHECK(static_cast<const float*>(m.features().row(5))[2] == (3 * 3 + 2) * 0.25f);  // a3, feature 2
    }
    // OUT as the first input: the old OUT followed by b.
    quietly([&] { REQUIRE(cmd_merge({out, out, b}) == 0); });
    CHECK(IndexFile::open(out).size() == 8);
    CHECK(std::string(IndexFile::open(out).name(7)) == "b1");

    const std::string before = read_all(out);
    auto refused = [&](std::vector<std::string> args, const std::vector<std::string>& parts) {
        args.insert(args.begin(), "--force");  // OUT exists and is not an input: the input checks are tested
        const std::string e = error_of([&] { cmd_merge(args); });
        for (const auto& p : parts) CHECK_MESSAGE(has(e, p), e);
        CHECK(read_all(out) == before);  // OUT untouched
    };
    const std::string bits = dir.file("bits.idx"), nofeat = dir.file("nofeat.idx"), dim = dir.file("dim.idx"),
                      half = dir.file("half.idx"), damaged = dir.file("damaged.idx");
    make_index(bits, 24, 3, 2, "x");
    make_index(nofeat, 20, 0, 2, "x");
    make_index(dim, 20, 4, 2, "x");
    make_index(half, 20, 3, 2, "x", FeatureType::F16);
    refused({out, a, bits}, {"index file '" + bits + "': cannot merge it with '" + a + "' (the first input): expected 20-bit codes, found 24-bit codes"});
    refused({out, a, nofeat}, {"'" + nofeat + "'", "expected 3-d float32 features, found no features"});
    refused({out, a, dim}, {"'" + dim + "'", "expected 3-d float32 features, found 4-d float32 features"});
    refused({out, a, half}, {"'" + half + "'", "expected 3-d float32 features, found 3-d float16 features"});
    refused({out, a, b, dir.file("./a.idx")}, {"index file '" + dir.file("./a.idx") + "': given twice (inputs 1 and 3)"});
    refused({out, a, dir.file("none.idx")}, {"none.idx"});
    std::string bytes = read_all(a);
    bytes[130] ^= 1;  // a code bit: the codes checksum fails
    test::write_text(damaged, bytes);
    refused({out, a, damaged}, {"index file '" + damaged + "'", "checksum mismatch in the codes section"});
    refused({out}, {"expected OUT.idx and at least one input index", "found 1 file name"});
    refused({dir.path, a}, {"OUT '" + dir.path + "'", "found an existing folder"});
}
