// tests/formats/test_caffemodel.cpp -- Caffe .caffemodel / .binaryproto and ONNX initializers to dlbhc
// weights (formats/caffemodel.h, formats/onnx_weights.h, formats/weights_import.h), `dlbhc convert` and
// weights/fetch.sh.
//
// The fixtures in tests/fixtures/caffemodel/ were written by the real protobuf library and numpy
// (make_fixtures.py there): V2, V1 and V0 caffemodels and an ONNX model of one tiny net, the
// tensors as dlbhc should convert them, an input and the net's output computed by numpy. Files
// damaged on purpose are built here with the wire encoder of formats/protowire.h.
#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/caffemodel.h"
#include "formats/npy.h"
#include "formats/onnx_weights.h"
#include "formats/protowire.h"
#include "formats/weights_file.h"
#include "formats/weights_import.h"
#include "nn/conv.h"
#include "nn/inner_product.h"
#include "nn/models.h"
#include "nn/net.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "tests/formats/proto_bytes.h"
#include "tests/support/child_process.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::TempDir;
using dlbhc::test::float_bytes;
using dlbhc::test::onnx_tensor_head;
using dlbhc::test::varint_field;
using dlbhc::test::has;
using namespace dlbhc::pb;

namespace {

std::string fixture(const std::string& name) { return test::repo_path("tests/fixtures/caffemodel/" + name); }


const char* kParams[] = {"conv1.weight", "conv1.bias", "ip1.weight", "ip1.bias", "ip2.weight", "ip2.bias"};

// The net of make_fixtures.py: conv1 (4, 3x3, group 2) -> max pool 2x2/2 -> ip1 (5) -> ReLU -> ip2 (3).
std::unique_ptr<Net> tiny_net() {
    auto net = std::make_unique<Net>("tiny");
    net->add_input("data", Shape(2, 2, 8, 8));
    net->add(std::make_unique<ConvolutionLayer>("conv1", ConvParam::square(4, 3, 1, 0, 2)), {"data"}, {"conv1"});
    net->add(std::make_unique<PoolingLayer>("pool1", PoolingParam::square(PoolingParam::MAX, 2, 2)), {"conv1"}, {"pool1"});
    InnerProductParam ip1;
    ip1.num_output = 5;
    net->add(std::make_unique<InnerProductLayer>("ip1", ip1), {"pool1"}, {"ip1"});
    net->add(std::make_unique<ReLULayer>("relu1"), {"ip1"}, {"ip1"});
    InnerProductParam ip2;
    ip2.num_output = 3;
    net->add(std::make_unique<InnerProductLayer>("ip2", ip2), {"ip1"}, {"ip2"});
    net->set_phase(Phase::Test);
    return net;
}

void check_against_expected(const WeightsFile& w) {
    REQUIRE(w.tensors.size() == 6);
    for (size_t i = 0; i < 6; ++i) {
        const NamedTensor& t = w.tensors[i];
        CHECK(t.name == kParams[i]);
        NamedTensor e = read_npy(fixture(std::string("expected/") + kParams[i] + ".npy"));
        CHECK(t.dims == e.dims);
        CHECK(t.data == e.data);
    }
}

// ---- hand-built protobuf ----

// A BlobProto with `shape` dims and float data.
std::string blob(const std::vector<int64_t>& dims, const std::vector<float>& data) {
    std::string shape, dimbytes, b;
    for (int64_t d : dims) put_varint(dimbytes, (uint64_t)d);
    put_len(shape, 1, dimbytes);
    put_len(b, 7, shape);
    put_len(b, 5, float_bytes(data));
    return b;
}

std::string v2_layer(const std::string& name, const std::string& type, const std::vector<std::string>& blobs) {
    std::string l;
    put_len(l, 1, name);
    put_len(l, 2, type);
    for (const auto& b : blobs) put_len(l, 7, b);
    return l;
}

std::string v2_net(const std::vector<std::string>& layers) {
    std::string n;
    put_len(n, 1, "t");
    for (const auto& l : layers) put_len(n, 100, l);
    return n;
}

std::string caffe_error(const std::string& bytes) {
    try {
        CaffeModel m = decode_caffemodel(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.caffemodel");
        caffemodel_to_weights(m, "t.caffemodel");
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

std::string onnx_model(const std::vector<std::string>& inits, const std::vector<std::string>& nodes = {}) {
    std::string g, m;
    for (const auto& n : nodes) put_len(g, 1, n);
    for (const auto& i : inits) put_len(g, 5, i);
    m += varint_field(1, 7);
    put_len(m, 7, g);
    return m;
}

std::string onnx_node(const std::string& op, const std::vector<std::string>& inputs,
                      const std::vector<std::pair<std::string, std::string>>& attrs = {}) {
    std::string n;
    for (const auto& i : inputs) put_len(n, 1, i);
    put_len(n, 2, op + "_out");
    put_len(n, 3, op + "_node");
    put_len(n, 4, op);
    for (const auto& a : attrs) {
        std::string at;
        put_len(at, 1, a.first);
        at += a.second;
        put_len(n, 5, at);
    }
    return n;
}

ImportedWeights onnx_decode(const std::string& bytes) {
    return decode_onnx_weights(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m.onnx");
}

std::string onnx_error(const std::string& bytes) {
    try {
        onnx_decode(bytes);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

// Runs a shell command; returns its exit status (stdout and stderr go to `log`).
int run(const std::string& cmd, const std::string& log) {
    int st = std::system(("{ " + cmd + "; } >'" + log + "' 2>&1").c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string sha1(const std::string& path, const std::string& tmp) {
    if (run("sha1sum '" + path + "' | cut -c1-40", tmp) != 0) return "";
    std::string s = test::read_all(tmp);
    return s.substr(0, 40);
}

}  // namespace

TEST_CASE("caffemodel: V2, V1 and V0 files written by protobuf give the tensors the script wrote") {
    const char* files[] = {"tiny_v2.caffemodel", "tiny_v1.caffemodel", "tiny_v0.caffemodel"};
    const int layouts[] = {2, 1, 0};
    for (int k = 0; k < 3; ++k) {
        CAPTURE(files[k]);
        CaffeModel m = read_caffemodel(fixture(files[k]));
        CHECK(m.name == "tiny");
        CHECK(m.layout == layouts[k]);
        REQUIRE(m.layers.size() == 6);
        CHECK(m.layers[1].name == "conv1");
        CHECK(m.layers[1].type == "Convolution");
        CHECK(m.layers[2].type == "Pooling");
        CHECK(m.layers[3].type == "InnerProduct");
        CHECK(m.layers[4].type == "ReLU");
        CHECK(m.layers[0].blobs.empty());
        ImportedWeights w = import_weights(fixture(files[k]));
        check_against_expected(w.weights);
        CHECK(*w.weights.meta("converted_from") == files[k]);
    }
    // The old 4-D shapes as stored, before unwrapping.
    CaffeModel v1 = read_caffemodel(fixture("tiny_v1.caffemodel"));
    CHECK(v1.layers[3].blobs[0].dims == std::vector<int64_t>{1, 1, 5, 36});
    CHECK(v1.layers[3].blobs[1].dims == std::vector<int64_t>{1, 1, 1, 5});
    CHECK(v1.layers[3].blobs[0].name == "layer 'ip1' blob 0");
}

TEST_CASE("caffemodel: V1 enum and V0 string layer types map to V2 names") {
    CHECK(caffe_v1_type_name(4) == "Convolution");
    CHECK(caffe_v1_type_name(14) == "InnerProduct");
    CHECK(caffe_v1_type_name(15) == "LRN");
    CHECK(caffe_v1_type_name(19) == "Sigmoid");
    CHECK(caffe_v1_type_name(21) == "SoftmaxWithLoss");
    CHECK(caffe_v1_type_name(99) == "V1 type 99");
    CHECK(caffe_v0_type_name("conv") == "Convolution");
    CHECK(caffe_v0_type_name("innerproduct") == "InnerProduct");
    CHECK(caffe_v0_type_name("pool") == "Pooling");
    CHECK(caffe_v0_type_name("something") == "something");
}

TEST_CASE("onnx: the fixture's initializers convert to the same tensors, fc weights transposed where stored (I, O)") {
    ImportedWeights w = import_weights(fixture("tiny.onnx"));
    check_against_expected(w.weights);
    CHECK(has(w.origin[4], "initializer ip2_w_0 (5, 3), transposed"));
    REQUIRE(w.notes.size() == 2);
    CHECK(has(w.notes[0], "ip2_w_0: transposed to (outputs, inputs) because node 'ip2' (Gemm"));
    CHECK(w.notes[1] == "initializer flatten_shape (INT64 (2)): a graph constant, not a weight; skipped");
}

TEST_CASE("convert, load and forward: V2, V1, V0 and ONNX all reproduce numpy's output") {
    TempDir dir;
    const NamedTensor input = read_npy(fixture("expected/input.npy"));
    const NamedTensor expected = read_npy(fixture("expected/output.npy"));
    REQUIRE(expected.dims == std::vector<int64_t>{2, 3});
    for (const char* f : {"tiny_v2.caffemodel", "tiny_v1.caffemodel", "tiny_v0.caffemodel", "tiny.onnx"}) {
        CAPTURE(f);
        const std::string out = dir.path + "/" + f + ".weights";
        write_weights(out, import_weights(fixture(f)).weights);
        auto net = tiny_net();
        WeightsLoadReport rep = load_weights(*net, read_weights(out));
        CHECK(rep.loaded.size() == 6);
        CHECK(rep.missing.empty());
        CHECK(rep.unused.empty());
        Blob* data = net->blob("data");
        REQUIRE(data->count() == input.data.size());
        std::memcpy(data->data.data(), input.data.data(), input.data.size() * 4);
        net->forward();
        const Blob* y = net->blob("ip2");
        REQUIRE(y->count() == 6);
        double worst = 0;
        for (size_t i = 0; i < 6; ++i) worst = std::fmax(worst, std::fabs((double)y->data[i] - expected.data[i]));
        CHECK(worst < 1e-5);
    }
}

TEST_CASE("binaryproto: a mean image becomes one tensor 'mean' (C, H, W)") {
    ImportedWeights w = import_weights(fixture("mini_mean.binaryproto"));
    REQUIRE(w.weights.tensors.size() == 1);
    const NamedTensor& m = w.weights.tensors[0];
    CHECK(m.name == "mean");
    CHECK(m.dims == std::vector<int64_t>{3, 4, 4});
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 16; ++i) CHECK(m.data[c * 16 + i] == 100.0f + 10.0f * c + 0.25f * i);
    TempDir dir;
    std::string short_mean = test::read_all(fixture("mini_mean.binaryproto"));
    short_mean = short_mean.substr(0, 8);  // num, channels, height, width: no data
    test::write_text(dir.path + "/m.binaryproto", short_mean);
    CHECK_THROWS_WITH_AS(read_binaryproto(dir.path + "/m.binaryproto"),
                         (dir.path + "/m.binaryproto: BlobProto: shape (1, 3, 4, 4) has 48 values, the blob holds 0").c_str(),
                         std::runtime_error);
    test::write_text(dir.path + "/e.binaryproto", "");
    CHECK_THROWS_WITH_AS(read_binaryproto(dir.path + "/e.binaryproto"),
                         (dir.path + "/e.binaryproto: BlobProto: empty (no shape and no data)").c_str(),
                         std::runtime_error);
    NamedTensor odd{"x", {2, 3, 4, 4}, std::vector<float>(96, 0.0f)};
    CHECK_THROWS_WITH_AS(mean_to_weights(odd, "m.binaryproto"),
                         "m.binaryproto: expected a mean image of shape (1, C, H, W) or (C, H, W), found (2, 3, 4, 4)",
                         std::runtime_error);
}

TEST_CASE("binaryproto: the real ImageNet mean written by Caffe") {
    const std::string path = test::shared_path("data/imagenet_mean.binaryproto");
    if (!std::ifstream(path).good()) {
        MESSAGE("skipped: " << path << " is not present (it is not part of the repository)");
        return;
    }
    NamedTensor m = read_binaryproto(path);
    REQUIRE(m.dims == std::vector<int64_t>{1, 3, 256, 256});
    const double expect[3] = {104.007, 116.669, 122.679};  // B, G, R
    for (int c = 0; c < 3; ++c) {
        double s = 0;
        for (size_t i = 0; i < 256 * 256; ++i) s += m.data[c * 256 * 256 + i];
        CHECK(std::fabs(s / (256 * 256) - expect[c]) < 1e-3);
    }
    ImportedWeights w = import_weights(path);
    CHECK(w.weights.tensors[0].dims == std::vector<int64_t>{3, 256, 256});
}

TEST_CASE("caffemodel: blob counts, absurd and negative dims") {
    CHECK(caffe_error(v2_net({v2_layer("conv1", "Convolution", {blob({2, 3}, {1, 2, 3, 4, 5, 6})})})) == "");
    std::string e = caffe_error(v2_net({v2_layer("conv1", "Convolution", {blob({2, 3}, {1, 2, 3, 4, 5})})}));
    CHECK(has(e, "t.caffemodel: byte "));
    CHECK(has(e, "field 7: layer 'conv1' blob 0: shape (2, 3) has 6 values, the blob holds 5"));
    e = caffe_error(v2_net({v2_layer("fc6", "InnerProduct", {blob({1, 2}, {1, 2}), blob({1048576, 1048576}, {1, 2, 3, 4, 5, 6})})}));
    CHECK(has(e, "layer 'fc6' blob 1: shape (1048576, 1048576) has 1099511627776 values, the blob holds 6"));
    const int64_t t40 = int64_t(1) << 40;
    e = caffe_error(v2_net({v2_layer("fc6", "InnerProduct", {blob({t40, t40, t40}, {1})})}));
    CHECK(has(e, "shape (1099511627776, 1099511627776, 1099511627776) has more than 2^64 values, the blob holds 1"));
    // A zero dim makes the product 0 however large the others are: an empty blob is consistent.
    CHECK(caffe_error(v2_net({v2_layer("e", "Convolution", {blob({t40, t40, 0}, {})})})) == "");
    e = caffe_error(v2_net({v2_layer("c", "Convolution", {blob({-1}, {1})})}));
    CHECK(has(e, "layer 'c' blob 0: negative dimension -1 in BlobShape"));
    std::string legacy = varint_field(1, uint64_t(int64_t(-4)));
    e = caffe_error(v2_net({v2_layer("c", "Convolution", {legacy})}));
    CHECK(has(e, "layer 'c' blob 0: negative dimension -4"));
    std::string shapeless;
    put_len(shapeless, 5, float_bytes({1, 2, 3}));
    e = caffe_error(v2_net({v2_layer("c", "Convolution", {shapeless})}));
    CHECK(has(e, "layer 'c' blob 0: has 3 values but no shape"));
    std::string both = blob({1}, {1});
    put_len(both, 8, std::string(8, '\0'));
    e = caffe_error(v2_net({v2_layer("c", "Convolution", {both})}));
    CHECK(has(e, "layer 'c' blob 0: has both float data (1 values) and double_data (1 values)"));
    // A 4-D field missing counts as 0, as in Caffe: num=2 channels=3 only -> 0 values expected.
    std::string partial = varint_field(1, 2) + varint_field(2, 3);
    put_len(partial, 5, float_bytes({1, 2, 3, 4, 5, 6}));
    e = caffe_error(v2_net({v2_layer("c", "Convolution", {partial})}));
    CHECK(has(e, "shape (2, 3, 0, 0) has 0 values, the blob holds 6"));
}

TEST_CASE("caffemodel: files that are not a net, or are ambiguous") {
    CHECK(caffe_error("") == "t.caffemodel: expected a Caffe NetParameter with layers (field 100 or 2), found an empty file");
    std::string only_name;
    put_len(only_name, 1, "net");
    CHECK(caffe_error(only_name) ==
          "t.caffemodel: expected a Caffe NetParameter with layers (field 100 or 2), found none (is this a .caffemodel?)");
    std::string mixed = v2_net({v2_layer("a", "ReLU", {})});
    std::string v1;
    put_len(v1, 4, "b");
    put_len(mixed, 2, v1);
    CHECK(caffe_error(mixed) ==
          "t.caffemodel: expected either V2 layers (NetParameter field 100, 1 found) or V1 layers (field 2, 1 found), "
          "not both");
    const std::string mean = test::read_all(fixture("mini_mean.binaryproto"));
    CHECK(has(caffe_error(mean), "t.caffemodel: byte 0: field 1: expected NetParameter.name (a string, wire type 2), "
                                      "found wire type 0: not a .caffemodel"));
    std::string dup = v2_net({v2_layer("fc", "InnerProduct", {blob({1}, {1})}), v2_layer("fc", "InnerProduct", {blob({1}, {2})})});
    CHECK(caffe_error(dup) == "t.caffemodel: two layers with blobs are named 'fc' (weights are matched by layer name)");
    const std::string v2 = test::read_all(fixture("tiny_v2.caffemodel"));
    CHECK(has(caffe_error(v2.substr(0, 1000)), "field 100: length prefix"));
    CHECK(has(caffe_error(v2.substr(0, 1000)), "goes beyond the end of its message"));
}

TEST_CASE("caffemodel and onnx: every truncation and single-byte corruption gives a clean result or a clear error") {
    // Under DEBUG=1 (ASan/UBSan) this also proves no read outside the buffer. Any exception other
    // than std::runtime_error (bad_alloc from a size taken on trust, say) fails the test.
    for (const char* f : {"tiny_v2.caffemodel", "tiny_v1.caffemodel", "tiny.onnx"}) {
        CAPTURE(f);
        const std::string good = test::read_all(fixture(f));
        const bool onnx = has(f, ".onnx");
        auto attempt = [&](const std::string& bytes) {
            try {
                if (onnx) onnx_decode(bytes);
                else caffemodel_to_weights(decode_caffemodel(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), f), f);
                return 0;
            } catch (const std::runtime_error&) {
                return 1;
            }
        };
        int errors = 0;
        for (size_t n = 0; n < good.size(); ++n) errors += attempt(good.substr(0, n));
        // Flipping all bits hits lengths, keys and wire types; flipping the top bit turns a
        // varint's last byte into a continuation (and back). (Kept to two patterns: under the
        // sanitizers every thrown exception costs about 0.1 ms.)
        const bool corrupt = !has(f, "_v1");  // v1 shares v2's blob code: truncations only
        for (size_t i = 0; corrupt && i < good.size(); ++i)
            for (int x : {0xff, 0x80}) {
                if (x == 0x80 && i % 2) continue;
                std::string bad = good;
                bad[i] = char(bad[i] ^ x);
                errors += attempt(bad);
            }
        CHECK(errors > 0);
    }
}

TEST_CASE("onnx: name mapping") {
    CHECK(onnx_param_name("conv1_w_0") == "conv1.weight");
    CHECK(onnx_param_name("fc8_b_0") == "fc8.bias");
    CHECK(onnx_param_name("conv1_W") == "conv1.weight");
    CHECK(onnx_param_name("conv1_b") == "conv1.bias");
    CHECK(onnx_param_name("conv1.weight") == "conv1.weight");
    CHECK(onnx_param_name("fc6.bias") == "fc6.bias");
    CHECK(onnx_param_name("OC2_DUMMY_1") == "OC2_DUMMY_1");
    CHECK(onnx_param_name("_b") == "_b");  // nothing before the suffix: not a layer name
    CHECK(onnx_param_name("") == "");
}

TEST_CASE("onnx: tensor element types, raw and typed data") {
    std::string f32 = onnx_tensor_head({2}, 1, "f");
    put_len(f32, 9, float_bytes({1.5f, -2.0f}));
    std::string i32 = onnx_tensor_head({2}, 6, "i");
    std::string packed;
    put_varint(packed, uint64_t(int64_t(-5)));  // int32 negatives are sign-extended 10-byte varints
    put_varint(packed, 7);
    put_len(i32, 5, packed);
    std::string f64 = onnx_tensor_head({1}, 11, "d");
    double d = 0.75;
    put_len(f64, 9, std::string(reinterpret_cast<const char*>(&d), 8));
    std::string model = onnx_model({f32, i32, f64});
    ImportedWeights w = onnx_decode(model);
    REQUIRE(w.weights.tensors.size() == 2);  // the INT32 one is a constant, skipped
    CHECK(w.weights.tensors[0].data == std::vector<float>{1.5f, -2.0f});
    CHECK(w.weights.tensors[1].data == std::vector<float>{0.75f});
    // read_onnx_tensor itself keeps integers.
    Reader r(reinterpret_cast<const uint8_t*>(i32.data()), i32.size(), "t.pb");
    Field whole;
    whole.number = 1;
    whole.type = kLen;
    whole.data = reinterpret_cast<const uint8_t*>(i32.data());
    whole.size = i32.size();
    int dt = 0;
    NamedTensor t = read_onnx_tensor(r, whole, &dt);
    CHECK(dt == kOnnxInt32);
    CHECK(t.name == "i");
    CHECK(t.data == std::vector<float>{-5.0f, 7.0f});

    NamedTensor d2 = read_onnx_tensor_file(fixture("tensor_double.pb"), &dt);
    CHECK(dt == kOnnxDouble);
    CHECK(d2.name == "d");
    CHECK(d2.dims == std::vector<int64_t>{2, 3});
    CHECK(d2.data == std::vector<float>{0.5f, -1.25f, 2.0f, 1e-3f, 3.0f, -7.5f});
}

TEST_CASE("onnx: malformed tensors and models") {
    auto with = [](std::string t, const std::string& extra) { return onnx_model({t + extra}); };
    std::string e = onnx_error(onnx_model({onnx_tensor_head({2}, 10, "h")}));
    CHECK(has(e, "m.onnx: byte "));
    CHECK(has(e, "field 5: tensor 'h': unsupported data_type 10 (FLOAT16); expected FLOAT, DOUBLE, INT32 or INT64"));
    std::string raw6;
    put_len(raw6, 9, "abcdef");
    CHECK(has(onnx_error(with(onnx_tensor_head({2}, 1, "r"), raw6)),
                   "tensor 'r': raw_data of 6 bytes is not a whole number of 4-byte FLOAT values"));
    std::string five;
    put_len(five, 4, float_bytes({1, 2, 3, 4, 5}));
    CHECK(has(onnx_error(with(onnx_tensor_head({2, 3}, 1, "c"), five)), "tensor 'c': shape (2, 3) needs 6 values, found 5"));
    CHECK(has(onnx_error(with(onnx_tensor_head({1ll << 40, 1ll << 40}, 1, "a"), five)),
                   "tensor 'a': shape (1099511627776, 1099511627776) needs more than 2^64 values, found 5"));
    std::string both = five;
    put_len(both, 9, float_bytes({1}));
    CHECK(has(onnx_error(with(onnx_tensor_head({5}, 1, "b"), both)), "tensor 'b': holds values both in raw_data and in a typed field"));
    CHECK(has(onnx_error(with(onnx_tensor_head({1}, 1, "x"), varint_field(14, 1))),
                   "tensor 'x': external data (data_location EXTERNAL) is not supported"));
    std::string seg;
    put_len(seg, 3, "");
    CHECK(has(onnx_error(with(onnx_tensor_head({1}, 1, "s"), seg)), "tensor segments (TensorProto.segment) are not supported"));
    std::string mism;
    put_len(mism, 4, float_bytes({1}));
    CHECK(has(onnx_error(with(onnx_tensor_head({1}, 7, "m"), mism)),
                   "tensor 'm': holds values in a field that does not match its data_type INT64"));
    std::string big;
    put_len(big, 9, std::string("\x01\x00\x00\x01\x00\x00\x00\x00", 8));  // 2^24 + 1
    CHECK(has(onnx_error(with(onnx_tensor_head({1}, 7, "k"), big)),
                   "tensor 'k': integer 16777217 at index 0 cannot be held exactly by float32"));
    std::string nograph = varint_field(1, 7);
    CHECK(onnx_error(nograph) == "m.onnx: expected an ONNX ModelProto with a graph (field 7), found none (is this an .onnx file?)");
    // Two initializers that map to one dlbhc name.
    std::string a = onnx_tensor_head({1}, 1, "fc_W"), b = onnx_tensor_head({1}, 1, "fc_w_0");
    put_len(a, 4, float_bytes({1}));
    put_len(b, 4, float_bytes({2}));
    CHECK(onnx_error(onnx_model({a, b})) == "m.onnx: initializers 'fc_W' and 'fc_w_0' both map to the name 'fc.weight'");
}

TEST_CASE("onnx: Gemm and MatMul weights stored (inputs, outputs) are transposed; alpha != 1 is refused") {
    std::string w = onnx_tensor_head({2, 3}, 1, "fc_w_0");  // (I=2, O=3)
    put_len(w, 4, float_bytes({1, 2, 3, 4, 5, 6}));
    ImportedWeights g0 = onnx_decode(onnx_model({w}, {onnx_node("Gemm", {"x", "fc_w_0"})}));
    REQUIRE(g0.weights.tensors.size() == 1);
    CHECK(g0.weights.tensors[0].dims == std::vector<int64_t>{3, 2});
    CHECK(g0.weights.tensors[0].data == std::vector<float>{1, 4, 2, 5, 3, 6});
    ImportedWeights mm = onnx_decode(onnx_model({w}, {onnx_node("MatMul", {"x", "fc_w_0"})}));
    CHECK(mm.weights.tensors[0].dims == std::vector<int64_t>{3, 2});
    CHECK(has(mm.notes[0], "node 'MatMul_node' (MatMul, byte "));
    ImportedWeights g1 = onnx_decode(onnx_model({w}, {onnx_node("Gemm", {"x", "fc_w_0"}, {{"transB", varint_field(3, 1)}})}));
    CHECK(g1.weights.tensors[0].dims == std::vector<int64_t>{2, 3});
    CHECK(g1.weights.tensors[0].data == std::vector<float>{1, 2, 3, 4, 5, 6});
    std::string alpha;
    put_fixed32(alpha, 2, 2.0f);
    std::string e = onnx_error(onnx_model({w}, {onnx_node("Gemm", {"x", "fc_w_0"}, {{"alpha", alpha}})}));
    CHECK(has(e, "m.onnx: node 'Gemm_node' (Gemm, byte "));
    CHECK(has(e, "Gemm with alpha 2.000000 and beta 1.000000 is not an inner product; expected alpha = beta = 1"));
    std::string w3 = onnx_tensor_head({1, 2, 3}, 1, "v_w_0");
    put_len(w3, 4, float_bytes({1, 2, 3, 4, 5, 6}));
    CHECK(has(onnx_error(onnx_model({w3}, {onnx_node("MatMul", {"x", "v_w_0"})})),
                   "initializer 'v_w_0' (1, 2, 3): node 'MatMul_node'"));
}

TEST_CASE("onnx: a real backend test case (libonnx-testdata) read and checked with Gemm") {
    const std::string dir = "/usr/share/libonnx-testdata/data/node/test_gemm_transposeB/test_data_set_0/";
    if (!std::ifstream(dir + "input_0.pb").good()) {
        MESSAGE("skipped: " << dir << " not installed (Debian package libonnx-testdata)");
        return;
    }
    // Y = A B^T + C, with A (3, 6), B (4, 6), C (1, 4): the files were written by ONNX's tools.
    NamedTensor A = read_onnx_tensor_file(dir + "input_0.pb");
    NamedTensor B = read_onnx_tensor_file(dir + "input_1.pb");
    NamedTensor C = read_onnx_tensor_file(dir + "input_2.pb");
    NamedTensor Y = read_onnx_tensor_file(dir + "output_0.pb");
    REQUIRE(A.dims == std::vector<int64_t>{3, 6});
    REQUIRE(B.dims == std::vector<int64_t>{4, 6});
    REQUIRE(C.dims == std::vector<int64_t>{1, 4});
    REQUIRE(Y.dims == std::vector<int64_t>{3, 4});
    double worst = 0;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) {
            double s = C.data[j];
            for (int k = 0; k < 6; ++k) s += (double)A.data[i * 6 + k] * B.data[j * 6 + k];
            worst = std::fmax(worst, std::fabs(s - Y.data[i * 4 + j]));
        }
    CHECK(worst < 1e-5);
}

TEST_CASE("caffemodel and onnx: a NaN or infinite weight is refused when loaded into a net") {
    std::vector<float> ip2(15, 0.25f);
    ip2[7] = std::nanf("");
    const std::string model = v2_net({v2_layer("ip2", "InnerProduct", {blob({3, 5}, ip2), blob({3}, {0, 0, 0})})});
    CaffeModel m = decode_caffemodel(reinterpret_cast<const uint8_t*>(model.data()), model.size(), "nan.caffemodel");
    ImportedWeights cw = caffemodel_to_weights(m, "nan.caffemodel");
    auto net = tiny_net();
    std::string e;
    try {
        load_weights(*net, cw.weights);
    } catch (const std::runtime_error& x) {
        e = x.what();
    }
    CHECK_MESSAGE(has(e, "weights file 'nan.caffemodel': tensor 'ip2.weight' (3, 5) holds NaN at element 7 (of 15)"), e);

    // ONNX: ip1_W (5, 36) stored as raw float32 bytes with +inf at element 179.
    std::vector<float> ip1(180, 0.5f);
    ip1[179] = INFINITY;
    std::string t = onnx_tensor_head({5, 36}, 1, "ip1_W");
    put_len(t, 9, float_bytes(ip1));
    ImportedWeights ow = onnx_decode(onnx_model({t}));
    e.clear();
    try {
        load_weights(*net, ow.weights);
    } catch (const std::runtime_error& x) {
        e = x.what();
    }
    CHECK_MESSAGE(has(e, "weights file 'm.onnx': tensor 'ip1.weight' (5, 36) holds +inf at element 179 (of 180)"), e);
}

TEST_CASE("weights import: format detection") {
    CHECK(parse_weights_format("onnx") == WeightsFormat::Onnx);
    CHECK_THROWS_WITH_AS(parse_weights_format("hdf5"),
                         "unknown weights format 'hdf5' (expected auto, caffemodel, binaryproto, onnx or weights)",
                         std::invalid_argument);
    CHECK(detect_weights_format("a/b.caffemodel") == WeightsFormat::Caffemodel);
    CHECK(detect_weights_format("x.binaryproto") == WeightsFormat::Binaryproto);
    CHECK(detect_weights_format("x.onnx") == WeightsFormat::Onnx);
    TempDir dir;
    write_weights(dir.path + "/noext", import_weights(fixture("tiny_v2.caffemodel")).weights);
    CHECK(detect_weights_format(dir.path + "/noext") == WeightsFormat::Weights);
    test::write_text(dir.path + "/other", "hello");
    CHECK_THROWS_WITH_AS(detect_weights_format(dir.path + "/other"),
                         ("'" + dir.path + "/other': cannot tell the format from the name (expected .caffemodel, "
                                           ".binaryproto, .onnx or .weights); pass --format").c_str(),
                         std::runtime_error);
    // An explicit format overrides the extension.
    test::write_text(dir.path + "/v2.bin", test::read_all(fixture("tiny_v2.caffemodel")));
    CHECK(import_weights(dir.path + "/v2.bin", WeightsFormat::Caffemodel).weights.tensors.size() == 6);
}

TEST_CASE("dlbhc convert: exit status, table and no output file on error") {
    const std::string bin = test::dlbhc_binary();  // $DLBHC_BIN, or the dlbhc beside the tests
    TempDir dir;
    const std::string log = dir.path + "/log.txt";
    CHECK(run("'" + bin + "' convert '" + fixture("tiny_v1.caffemodel") + "' '" + dir.path + "/ok.weights'", log) == 0);
    const std::string out = test::read_all(log);
    CHECK(has(out, "caffemodel, V1 layout (NetParameter.layers, field 2)"));
    CHECK(has(out, "ip1.weight"));
    CHECK(has(out, "stored as (1, 1, 5, 36)"));
    CHECK(has(out, "6 tensors, 243 values"));
    check_against_expected(read_weights(dir.path + "/ok.weights"));
    test::write_text(dir.path + "/cut.caffemodel", test::read_all(fixture("tiny_v2.caffemodel")).substr(0, 700));
    CHECK(run("'" + bin + "' convert '" + dir.path + "/cut.caffemodel' '" + dir.path + "/bad.weights'", log) == 1);
    CHECK(has(test::read_all(log), "dlbhc convert: error: " + dir.path + "/cut.caffemodel: byte"));
    CHECK(run("'" + bin + "' convert '" + dir.path + "/cut.caffemodel' --list", log) == 1);
    CHECK(run("'" + bin + "' convert '" + fixture("tiny.onnx") + "' --list", log) == 0);
    CHECK(has(test::read_all(log), "transposed"));
    CHECK(run("'" + bin + "' convert '" + fixture("tiny.onnx") + "'", log) == 1);
    CHECK(has(test::read_all(log), "expected an input and an output file"));
    CHECK(dir.files() == std::vector<std::string>{"cut.caffemodel", "log.txt", "ok.weights"});

    // --net: a shape mismatch with the built-in net is an error and nothing is written.
    CHECK(run("'" + bin + "' convert '" + fixture("tiny_v2.caffemodel") + "' '" + dir.path +
                  "/n.weights' --net small --size 13",
              log) == 1);
    CHECK(has(test::read_all(log), "layer 'conv1' (Convolution), parameter 'conv1.weight': the net expects shape (32, 1, 5, "
                               "5) (800 values), the file has (4, 1, 3, 3) (36 values)"));
    // A "pretrained" file: the small net's weights without the latent and classifier layers, plus
    // an ImageNet-style classifier the net does not have.
    DlbhcNetConfig cfg;
    cfg.with_loss = false;
    auto small = build_small_dlbhc(cfg, 1, 13);
    WeightsFile pre = weights_from_net(*small);
    pre.tensors.resize(6);  // conv1, conv2, fc7 (weight and bias each)
    pre.tensors.push_back(NamedTensor{"fc8.weight", {2, 2}, {1, 2, 3, 4}});
    write_weights(dir.path + "/pre.weights", pre);
    CHECK(run("'" + bin + "' convert '" + dir.path + "/pre.weights' --list --net small --size 13", log) == 0);
    const std::string rep = test::read_all(log);
    CHECK(has(rep, "net SmallDLBHC: 6 parameters loaded, 4 missing (keep their filler values), 1 tensors unused"));
    CHECK(has(rep, "  missing: fc8_kevin.weight fc8_kevin.bias fc8_pascal.weight fc8_pascal.bias"));
    CHECK(has(rep, "  unused: fc8.weight"));
}

TEST_CASE("weights/fetch.sh: verifies SHA-1 and converts (local files), removes what fails") {
    const std::string bin = test::dlbhc_binary();
    if (run("command -v sha1sum && command -v bash", "/dev/null") != 0) {
        MESSAGE("skipped: needs bash and sha1sum");
        return;
    }
    TempDir dir;
    const std::string from = dir.path + "/mirror", dest = dir.path + "/dest", log = dir.path + "/log.txt";
    REQUIRE(run("mkdir -p '" + from + "'", log) == 0);
    test::write_text(from + "/bvlc_reference_caffenet.caffemodel", test::read_all(fixture("tiny_v2.caffemodel")));
    test::write_text(from + "/bvlc_alexnet.caffemodel", test::read_all(fixture("tiny_v1.caffemodel")));
    test::write_text(from + "/imagenet_mean.binaryproto", test::read_all(fixture("mini_mean.binaryproto")));
    const std::string s_caffenet = sha1(fixture("tiny_v2.caffemodel"), log);
    const std::string s_mean = sha1(fixture("mini_mean.binaryproto"), log);
    REQUIRE(s_caffenet.size() == 40);
    const std::string script = "bash '" + test::repo_path("weights/fetch.sh") + "' --from '" + from + "' --dest '" + dest +
                               "' --dlbhc '" + bin + "'";
    CHECK(run("DLBHC_SHA1_CAFFENET=" + s_caffenet + " DLBHC_SHA1_MEAN=" + s_mean + " " + script + " --only caffenet,mean",
              log) == 0);
    check_against_expected(read_weights(dest + "/caffenet.weights"));
    CHECK(read_weights(dest + "/imagenet_mean.weights").tensors[0].dims == std::vector<int64_t>{3, 4, 4});
    // The real AlexNet sum cannot match the fixture: the script fails and leaves nothing of it.
    CHECK(run(script + " --only alexnet", log) == 1);
    CHECK(has(test::read_all(log), "bvlc_alexnet.caffemodel: SHA-1 mismatch: expected 9116a64c0fbe4459d18f4bb6b56d647b63920377"));
    // A download that fails (curl reading a missing file:// address) leaves nothing either.
    if (run("command -v curl", "/dev/null") == 0) {
        CHECK(run("DLBHC_URL_ALEXNET=file://" + dir.path + "/absent '" + test::repo_path("weights/fetch.sh") + "' --dest '" + dest +
                      "' --dlbhc '" + bin + "' --only alexnet",
                  log) == 1);
        CHECK(has(test::read_all(log), "download of file://"));
    }
    // A file with the right sum that does not convert: the script fails, no .weights appears.
    test::write_text(from + "/bvlc_alexnet.caffemodel", "not a caffemodel");
    const std::string s_bad = sha1(from + "/bvlc_alexnet.caffemodel", log);
    CHECK(run("DLBHC_SHA1_ALEXNET=" + s_bad + " " + script + " --only alexnet", log) == 1);
    CHECK(has(test::read_all(log), "dlbhc convert"));
    std::vector<std::string> names;
    if (DIR* d = opendir(dest.c_str())) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') names.push_back(e->d_name);
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"bvlc_alexnet.caffemodel", "bvlc_reference_caffenet.caffemodel",
                                            "caffenet.weights", "imagenet_mean.binaryproto", "imagenet_mean.weights"});
}
