// tests/formats/test_weights_file.cpp -- dlbhc's weights file (formats/weights_file.h): the byte layout of
// docs/formats.md, round trips, every kind of damaged or crafted file, atomic writes, and
// loading into a Net by parameter name.
#include <doctest/doctest.h>

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/models.h"
#include "nn/net.h"
#include "nn/rng.h"
#include "formats/weights_file.h"
#include "io/xxhash64.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::TempDir;
using dlbhc::test::has;

namespace {

void put32(std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s.push_back(char(v >> (8 * i)));
}
void put64(std::string& s, uint64_t v) {
    for (int i = 0; i < 8; ++i) s.push_back(char(v >> (8 * i)));
}
void putf(std::string& s, float f) { s.append(reinterpret_cast<const char*>(&f), 4); }

// A complete file, with correct checksums, around any payload: written independently of the
// encoder, from the layout in docs/formats.md.
std::string craft(uint32_t tensors, uint32_t meta, const std::string& payload, uint32_t version = 1) {
    std::string h("DLBHCWTS", 8);
    put32(h, version);
    put32(h, tensors);
    put32(h, meta);
    put32(h, 0);
    put64(h, payload.size());
    put64(h, xxhash64(h.data(), 32));
    std::string f = h + payload;
    put64(f, xxhash64(payload.data(), payload.size()));
    return f;
}

std::string tensor_record(const std::string& name, const std::vector<uint64_t>& dims, const std::vector<float>& v) {
    std::string r;
    put32(r, (uint32_t)name.size());
    r += name;
    put32(r, (uint32_t)dims.size());
    for (uint64_t d : dims) put64(r, d);
    for (float f : v) putf(r, f);
    return r;
}

std::string decode_error(const std::string& bytes) {
    try {
        decode_weights(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "w.weights");
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}


WeightsFile sample() {
    WeightsFile w;
    w.metadata = {{"iteration", "1200"}, {"rng", std::string("\0\x01\xff", 3)}};
    NamedTensor a{"conv1.weight", {2, 1, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}};
    NamedTensor b{"conv1.bias", {2}, {-0.5f, 0.25f}};
    NamedTensor s{"scale", {}, {3.0f}};
    NamedTensor e{"empty", {0, 3}, {}};
    w.tensors = {a, b, s, e};
    return w;
}

std::unique_ptr<Net> small_net(uint64_t seed) {
    DlbhcNetConfig cfg;
    cfg.batch = 2;
    cfg.latent_bits = 8;
    cfg.num_classes = 3;
    cfg.with_loss = false;
    auto net = build_small_dlbhc(cfg, 1, 13);
    Rng rng(seed);
    net->init_params(rng);
    return net;
}

}  // namespace

TEST_CASE("weights file: the bytes follow the documented layout") {
    WeightsFile w;
    w.metadata = {{"k", "v"}};
    w.tensors = {NamedTensor{"a", {2}, {1.0f, -2.0f}}};
    std::string payload;
    put32(payload, 1);
    payload += "k";
    put64(payload, 1);
    payload += "v";
    payload += tensor_record("a", {2}, {1.0f, -2.0f});
    CHECK(payload.size() == 39);
    const std::string expect = craft(1, 1, payload);
    CHECK(expect.size() == 40 + 39 + 8);
    CHECK(encode_weights(w) == expect);
    WeightsFile r = decode_weights(reinterpret_cast<const uint8_t*>(expect.data()), expect.size(), "x");
    REQUIRE(r.tensors.size() == 1);
    CHECK(r.tensors[0].name == "a");
    CHECK(r.tensors[0].dims == std::vector<int64_t>{2});
    CHECK(r.tensors[0].data == std::vector<float>{1.0f, -2.0f});
    REQUIRE(r.meta("k") != nullptr);
    CHECK(*r.meta("k") == "v");
    CHECK(r.meta("nope") == nullptr);
}

TEST_CASE("weights file: round trip through disk, with scalars, empty tensors and binary metadata") {
    TempDir dir;
    const std::string path = dir.path + "/a.weights";
    WeightsFile w = sample();
    write_weights(path, w);
    WeightsFile r = read_weights(path);
    CHECK(r.source == path);
    REQUIRE(r.tensors.size() == w.tensors.size());
    for (size_t i = 0; i < w.tensors.size(); ++i) {
        CHECK(r.tensors[i].name == w.tensors[i].name);
        CHECK(r.tensors[i].dims == w.tensors[i].dims);
        CHECK(r.tensors[i].data == w.tensors[i].data);
    }
    CHECK(r.metadata == w.metadata);
    CHECK(r.find("scale")->count() == 1);
    CHECK(r.find("missing") == nullptr);
    // The streamed writer and the in-memory encoder agree byte for byte.
    std::ifstream f(path, std::ios::binary);
    std::string disk((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(disk == encode_weights(w));
    CHECK(dir.files() == std::vector<std::string>{"a.weights"});  // no temporary left behind
}

TEST_CASE("weights file: wrong magic, version, size and checksums") {
    const std::string good = encode_weights(sample());
    CHECK(decode_error(good) == "");
    CHECK(decode_error("PK\x03\x04zipfile....................................................") ==
          "weights file 'w.weights': expected the magic 'DLBHCWTS' (a dlbhc weights file), found 'PK\\x03\\x04zipf'");
    CHECK(decode_error("DLBHC") ==
          "weights file 'w.weights': expected the magic 'DLBHCWTS' (a dlbhc weights file), found 'DLBHC' (the file "
          "has only 5 bytes)");
    CHECK(decode_error(good.substr(0, 20)) ==
          "weights file 'w.weights': truncated: expected at least 48 bytes (header and checksum), found 20");
    std::string v2 = good;
    v2[8] = 2;
    CHECK(decode_error(v2) == "weights file 'w.weights': expected format version 1, found 2");
    std::string hdr = good;
    hdr[12] ^= 1;  // tensor count
    CHECK(has(decode_error(hdr), "header checksum mismatch: stored 0x"));
    const size_t payload = good.size() - 48;
    CHECK(decode_error(good.substr(0, good.size() - 1)) ==
          "weights file 'w.weights': expected " + std::to_string(payload) + " payload bytes (so a file of " +
              std::to_string(good.size()) + " bytes), found a file of " + std::to_string(good.size() - 1) +
              " bytes (truncated or extended)");
    CHECK(has(decode_error(good + "x"), "found a file of " + std::to_string(good.size() + 1) + " bytes"));
    std::string data = good;
    data[good.size() - 20] ^= 0x40;  // a float of the payload
    CHECK(has(decode_error(data), "weights file 'w.weights': payload checksum mismatch: stored 0x"));
    CHECK(has(decode_error(data), "(the file is damaged)"));
    std::string trailer = good;
    trailer[good.size() - 1] ^= 1;
    CHECK(has(decode_error(trailer), "payload checksum mismatch"));
}

TEST_CASE("weights file: crafted files with valid checksums are checked before allocating") {
    // 2^40 floats declared, 2 present.
    CHECK(decode_error(craft(1, 0, tensor_record("a", {1u << 20, 1u << 20}, {1, 2}))) ==
          "weights file 'w.weights': byte 45: tensor 0 ('a'): shape (1048576, 1048576) needs more float32 values "
          "than the 2 left in the file");
    // A product that overflows 64 bits: refused at its first dim above INT_MAX.
    CHECK(has(decode_error(craft(1, 0, tensor_record("a", {1ull << 30, 1ull << 62, 4}, {1}))),
                   "tensor 0 ('a'): dim 1 is 4611686018427387904, expected 0..2147483647"));
    // A dim with the top bit set (negative as int64).
    CHECK(has(decode_error(craft(1, 0, tensor_record("a", {1ull << 63}, {}))),
                   "tensor 0 ('a'): dim 0 is 9223372036854775808, expected 0..2147483647"));
    // Found by fuzzing (tests/fuzz/regress/weights/): a zero dim made the product 0, so absurd
    // dims beside it were accepted, and a later conversion to a Tensor failed without naming the file.
    CHECK(has(decode_error(craft(1, 0, tensor_record("a", {2, 0, 1ull << 40}, {}))),
                   "tensor 0 ('a'): dim 2 is 1099511627776, expected 0..2147483647"));
    {
        WeightsFile w;
        w.tensors.push_back({"big", {0, 1ll << 31}, {}});
        CHECK_THROWS_WITH_AS(encode_weights(w), doctest::Contains("expected dims in 0..2147483647, found (0, 2147483648)"),
                             std::invalid_argument);
    }
    std::string long_name;
    put32(long_name, 5000);
    long_name += std::string(5000, 'x');
    CHECK(decode_error(craft(1, 0, long_name)) ==
          "weights file 'w.weights': byte 40: tensor 0: expected a name of 1..4096 bytes, found 5000");
    std::string no_name;
    put32(no_name, 0);
    CHECK(has(decode_error(craft(1, 0, no_name)), "byte 40: tensor 0: expected a name of 1..4096 bytes, found 0"));
    std::string many_dims;
    put32(many_dims, 1);
    many_dims += "a";
    put32(many_dims, 9);
    CHECK(decode_error(craft(1, 0, many_dims)) ==
          "weights file 'w.weights': byte 45: tensor 0 ('a'): expected at most 8 dims, found 9");
    // The header promises two tensors, the payload holds one.
    CHECK(decode_error(craft(2, 0, tensor_record("a", {1}, {1}))) ==
          "weights file 'w.weights': byte 61: truncated tensor 1 name length: expected 4 bytes, found 0 before the "
          "checksum");
    CHECK(has(decode_error(craft(1, 0, tensor_record("a", {1}, {1}) + "zz")),
                   "byte 61: expected the checksum after the last tensor, found 2 more payload bytes"));
    CHECK(has(decode_error(craft(2, 0, tensor_record("a", {1}, {1}) + tensor_record("a", {1}, {2}))),
                   "byte 61: tensor 1 ('a'): duplicate tensor name"));
    std::string meta;
    put32(meta, 1);
    meta += "k";
    put64(meta, 1000);
    meta += "v";
    CHECK(decode_error(craft(0, 1, meta)) ==
          "weights file 'w.weights': byte 40: metadata entry 0 ('k'): value of 1000 bytes goes beyond the payload (1 "
          "bytes left)");
    std::string reserved = craft(0, 0, "");
    reserved[20] = 1;  // reserved field, then fix the header checksum
    std::string fixed = reserved.substr(0, 32);
    put64(fixed, xxhash64(fixed.data(), 32));
    CHECK(decode_error(fixed + reserved.substr(40)) ==
          "weights file 'w.weights': header bytes 20..23 (reserved): expected 0, found 1");
}

TEST_CASE("weights file: bad input to the writer leaves no file; a good write replaces atomically") {
    TempDir dir;
    const std::string path = dir.path + "/w.weights";
    write_weights(path, sample());
    WeightsFile dup = sample();
    dup.tensors[1].name = dup.tensors[0].name;
    CHECK_THROWS_WITH_AS(write_weights(path, dup), "weights file: cannot write: duplicate tensor name 'conv1.weight'",
                         std::invalid_argument);
    WeightsFile bad = sample();
    bad.tensors[0].data.pop_back();
    CHECK_THROWS_WITH_AS(write_weights(path, bad),
                         "weights file: cannot write: tensor 'conv1.weight': shape (2, 1, 2, 2) needs 8 values, found 7",
                         std::invalid_argument);
    WeightsFile noname = sample();
    noname.tensors[0].name = "";
    CHECK_THROWS_AS(write_weights(path, noname), std::invalid_argument);
    // The earlier file is untouched and nothing else was created.
    CHECK(read_weights(path).tensors.size() == 4);
    CHECK(dir.files() == std::vector<std::string>{"w.weights"});
    CHECK_THROWS_AS(write_weights(dir.path + "/no/such/folder/x.weights", dup), std::invalid_argument);
    CHECK(dir.files() == std::vector<std::string>{"w.weights"});  // no folder made for it either
    CHECK_THROWS_WITH_AS(read_weights(dir.path + "/absent.weights"),
                         ("weights file '" + dir.path + "/absent.weights': cannot open: "
                                                        "No such file or directory").c_str(),
                         std::runtime_error);
    WeightsFile other;
    other.tensors = {NamedTensor{"x", {1}, {9.0f}}};
    write_weights(path, other);
    CHECK(read_weights(path).tensors.size() == 1);
    CHECK(dir.files() == std::vector<std::string>{"w.weights"});
}

TEST_CASE("weights file: a net's parameters round trip and reproduce its forward pass") {
    TempDir dir;
    auto a = small_net(1);
    auto b = small_net(2);
    CHECK(a->param("conv1.weight")->value[0] != b->param("conv1.weight")->value[0]);
    write_weights(dir.path + "/a.weights", weights_from_net(*a));
    WeightsFile w = read_weights(dir.path + "/a.weights");
    // Saved shapes drop trailing 1s: a bias is 1-D, an inner-product weight 2-D.
    CHECK(w.find("conv1.bias")->dims == std::vector<int64_t>{32});
    CHECK(w.find("fc7.weight")->dims.size() == 2);
    WeightsLoadReport rep = load_weights(*b, w);
    CHECK(rep.loaded.size() == a->params().size());
    CHECK(rep.missing.empty());
    CHECK(rep.unused.empty());
    CHECK(rep.reshaped.empty());
    for (Param* p : a->params()) {
        const Tensor& q = b->param(p->name)->value;
        REQUIRE(q.count() == p->value.count());
        CHECK(std::memcmp(q.data(), p->value.data(), q.count() * 4) == 0);
    }
    for (Net* n : {a.get(), b.get()}) {
        Rng r(7);
        Blob* d = n->blob("data");
        for (size_t i = 0; i < d->count(); ++i) d->data[i] = r.uniform(-1, 1);
        n->set_phase(Phase::Test);
        n->forward();
    }
    const Blob* ya = a->blob("fc8_pascal");
    const Blob* yb = b->blob("fc8_pascal");
    for (size_t i = 0; i < ya->count(); ++i) CHECK(ya->data[i] == yb->data[i]);
}

TEST_CASE("weights file: loading by name reports missing, unused and old-style reshaped tensors") {
    auto net = small_net(3);
    const Shape fc7 = net->param("fc7.weight")->value.shape();  // (500, I, 1, 1)
    std::vector<float> before_conv2(net->param("conv2.weight")->value.data(),
                                    net->param("conv2.weight")->value.data() + net->param("conv2.weight")->value.count());
    WeightsFile w;
    w.source = "part.weights";
    NamedTensor c1 = from_tensor("conv1.weight", net->param("conv1.weight")->value);
    for (float& v : c1.data) v = 0.5f;
    NamedTensor old{"fc7.weight", {1, 1, fc7.n, fc7.c}, std::vector<float>(fc7.count(), -0.25f)};
    NamedTensor extra{"mystery", {3}, {1, 2, 3}};
    w.tensors = {c1, old, extra};
    WeightsLoadReport rep = load_weights(*net, w);
    CHECK(rep.loaded == std::vector<std::string>{"conv1.weight", "fc7.weight"});
    CHECK(rep.unused == std::vector<std::string>{"mystery"});
    CHECK(rep.reshaped == std::vector<std::string>{"fc7.weight: (1, 1, 500, " + std::to_string(fc7.c) + ") -> " + fc7.str()});
    CHECK(std::find(rep.missing.begin(), rep.missing.end(), "conv1.bias") != rep.missing.end());
    CHECK(std::find(rep.missing.begin(), rep.missing.end(), "fc8_pascal.weight") != rep.missing.end());
    CHECK(rep.missing.size() + rep.loaded.size() == net->params().size());
    CHECK(net->param("conv1.weight")->value[3] == 0.5f);
    CHECK(net->param("fc7.weight")->value[fc7.count() - 1] == -0.25f);
    // Parameters the file lacks keep their filler values.
    const Tensor& c2 = net->param("conv2.weight")->value;
    CHECK(std::memcmp(c2.data(), before_conv2.data(), c2.count() * 4) == 0);
}

TEST_CASE("weights file: a shape mismatch names the layer and both shapes, and changes nothing") {
    auto net = small_net(4);
    const Shape fc7 = net->param("fc7.weight")->value.shape();
    const float conv1_before = net->param("conv1.weight")->value[0];
    WeightsFile w;
    w.source = "bad.weights";
    NamedTensor c1 = from_tensor("conv1.weight", net->param("conv1.weight")->value);
    for (float& v : c1.data) v = 9.0f;
    // Same count, transposed: refused (only size-1 dims may differ).
    NamedTensor tr{"fc7.weight", {fc7.c, fc7.n}, std::vector<float>(fc7.count(), 1.0f)};
    w.tensors = {c1, tr};
    const std::string msg = "weights file 'bad.weights': layer 'fc7' (InnerProduct), parameter 'fc7.weight': the net "
                            "expects shape " + fc7.str() + " (" + std::to_string(fc7.count()) + " values), the file has (" +
                            std::to_string(fc7.c) + ", 500) (" + std::to_string(fc7.count()) + " values)";
    CHECK_THROWS_WITH_AS(load_weights(*net, w), msg.c_str(), std::runtime_error);
    CHECK(net->param("conv1.weight")->value[0] == conv1_before);
    // A different count.
    w.tensors = {NamedTensor{"conv1.bias", {21}, std::vector<float>(21, 0.0f)}};
    CHECK_THROWS_WITH_AS(load_weights(*net, w),
                         "weights file 'bad.weights': layer 'conv1' (Convolution), parameter 'conv1.bias': the net "
                         "expects shape (32, 1, 1, 1) (32 values), the file has (21) (21 values)",
                         std::runtime_error);
}

TEST_CASE("weights file: weights of another net list every parameter that differs and the net they record") {
    auto net = small_net(5);  // latent 8, 3 classes
    DlbhcNetConfig cfg;
    cfg.batch = 1, cfg.latent_bits = 16, cfg.num_classes = 5, cfg.with_loss = false;
    auto other = build_small_dlbhc(cfg, 1, 13);
    WeightsFile w = weights_from_net(*other);
    w.source = "other.weights";
    const std::string msg = test::error_of([&] { load_weights(*net, w); });
    CHECK_MESSAGE(test::has(msg, "weights file 'other.weights' does not fit net 'SmallDLBHC': 4 parameters differ in shape\n"), msg);
    for (const char* line :
         {"\n  layer 'fc8_kevin' (InnerProduct), parameter 'fc8_kevin.weight': the net expects shape (8, 500, 1, 1) (4000 "
          "values), the file has (16, 500) (8000 values)",
          "\n  layer 'fc8_kevin' (InnerProduct), parameter 'fc8_kevin.bias': the net expects shape (8, 1, 1, 1)",
          "\n  layer 'fc8_pascal' (InnerProduct), parameter 'fc8_pascal.weight': the net expects shape (3, 8, 1, 1) (24 "
          "values), the file has (5, 16) (80 values)",
          "\n  layer 'fc8_pascal' (InnerProduct), parameter 'fc8_pascal.bias'"})
        CHECK_MESSAGE(test::has(msg, line), line);
    // The net the file was written for, when it records one (dlbhc train writes net.name, net.file).
    w.set_meta("net.name", "SmallDLBHC-16");
    w.set_meta("net.file", "runs/small16.prototxt");
    CHECK(test::has(test::error_of([&] { load_weights(*net, w); }),
              "differ in shape (the file was written for net 'SmallDLBHC-16' (runs/small16.prototxt))\n"));
    CHECK(recorded_net(WeightsFile{}).empty());
}

TEST_CASE("weights file: dims_product checks overflow and negative dims") {
    uint64_t n = 99;
    CHECK(dims_product({}, &n));
    CHECK(n == 1);
    CHECK(dims_product({2, 3, 4}, &n));
    CHECK(n == 24);
    CHECK(dims_product({int64_t(1) << 40, int64_t(1) << 40, 0}, &n));
    CHECK(n == 0);
    CHECK(dims_product({int64_t(1) << 32, (int64_t(1) << 32) - 1}, &n));
    CHECK(n == (uint64_t(1) << 32) * ((uint64_t(1) << 32) - 1));
    n = 7;
    CHECK_FALSE(dims_product({int64_t(1) << 32, int64_t(1) << 32}, &n));
    CHECK_FALSE(dims_product({2, -1}, &n));
    CHECK(n == 7);
}
