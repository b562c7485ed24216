// tests/fuzz/make_seeds.cpp -- writes the part of the seed corpus that dlbhc's own writers make
// (IDX, CIFAR-10, list files, PNG/JPEG, .npy, weights files and snapshots, index files): small
// valid files, a few bytes to a few KB, in tests/fuzz/corpus/<target>/. `make fuzz-seeds` runs it
// and adds the gzip variants and the fixture files (prototxt, solver, caffemodel, ONNX...). The
// output is committed; this program only documents (and can redo) how it was made.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/image_io.h"
#include "hash/code.h"
#include "formats/npy.h"
#include "formats/protowire.h"
#include "formats/weights_file.h"
#include "search/index_file.h"

using namespace dlbhc;
namespace fs = std::filesystem;

static const fs::path kOut = "tests/fuzz/corpus";

static void put(const std::string& target, const std::string& name, const std::string& bytes) {
    fs::create_directories(kOut / target);
    std::ofstream f(kOut / target / name, std::ios::binary);
    f.write(bytes.data(), (std::streamsize)bytes.size());
}

static std::string idx_bytes(const std::vector<uint32_t>& dims, uint32_t seed) {
    std::string s = {0, 0, 8, (char)dims.size()};
    size_t n = 1;
    for (uint32_t d : dims) {
        for (int b = 3; b >= 0; --b) s += (char)(d >> (8 * b));
        n *= d;
    }
    for (size_t i = 0; i < n; ++i) s += (char)((i * 37 + seed) % 256);
    return s;
}

int main() {
    // idx: MNIST-like label and image files (gzip variants are added by the Makefile rule).
    put("idx", "labels.idx1", idx_bytes({10}, 3));
    put("idx", "images.idx3", idx_bytes({3, 4, 5}, 7));
    put("idx", "four_dims.idx", idx_bytes({2, 1, 2, 3}, 1));

    // cifar: one and two records.
    for (int n : {1, 2}) {
        std::string s;
        for (int r = 0; r < n; ++r) {
            s += (char)(r * 7 % 10);
            for (int i = 0; i < 3072; ++i) s += (char)((i * 13 + r) % 256);
        }
        put("cifar", "batch_" + std::to_string(n) + ".bin", s);
    }

    // list: Caffe ImageData list files.
    put("list", "plain.txt", "cat/1.jpg 0\ndog/2.png 1\n/abs/path/3.jpeg 2\n");
    put("list", "spaces_tabs.txt", "a folder/with spaces.png\t3\n\n  b.jpg   12  \r\nc.png 0");

    // image: grey and colour PNG, JPEG.
    fs::create_directories(kOut / "image");
    Image grey(1, 4, 5), colour(3, 6, 7);
    for (size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = (uint8_t)(i * 11);
    for (size_t i = 0; i < colour.pixels.size(); ++i) colour.pixels[i] = (uint8_t)(i * 29);
    save_png((kOut / "image" / "grey.png").string(), grey);
    save_png((kOut / "image" / "colour.png").string(), colour);
    save_jpeg((kOut / "image" / "colour.jpg").string(), colour, 80);
    save_jpeg((kOut / "image" / "grey.jpg").string(), grey, 95);

    // npy: our own encoder (the fixtures add other dtypes and orders).
    const std::vector<float> v = {1.5f, -2.f, 0.f, 3.25f, 1e-3f, 7.f};
    put("npy", "f4_2x3.npy", encode_npy(v.data(), {2, 3}));
    put("npy", "f4_scalar.npy", encode_npy(v.data(), {}));

    // weights: a weights file with metadata, and a training snapshot.
    WeightsFile w;
    w.tensors.push_back({"conv1.weight", {2, 1, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}});
    w.tensors.push_back({"conv1.bias", {2}, {0.5f, -0.5f}});
    w.set_meta("dlbhc.source", "make_seeds");
    put("weights", "plain.weights", encode_weights(w));
    w.tensors.push_back({"conv1.weight@momentum", {2, 1, 2, 2}, {0, 0, 0, 0, 1, 1, 1, 1}});
    w.tensors.push_back({"conv1.bias@momentum", {2}, {0, 0}});
    w.set_meta("dlbhc.kind", "training-snapshot");
    w.set_meta("iter", "20");
    w.set_meta("rng.drop7", "12345 678");
    put("weights", "snapshot.weights", encode_weights(w));

    // binaryproto: BlobProtos as Caffe writes them, with a BlobShape (field 7) and with the legacy
    // num/channels/height/width fields (1..4); data (5) packed. (The fixture adds a real one.)
    {
        std::string shape, data, blob;
        for (int64_t d : {1, 2, 2}) pb::put_varint(shape, (uint64_t)d);  // packed dims
        std::string shape_msg;
        pb::put_len(shape_msg, 1, shape);
        for (int i = 0; i < 4; ++i) {
            float f = 100.f + i;
            data.append(reinterpret_cast<const char*>(&f), 4);
        }
        pb::put_len(blob, 7, shape_msg);
        pb::put_len(blob, 5, data);
        put("binaryproto", "shape.binaryproto", blob);
        std::string legacy;
        for (int field = 1; field <= 4; ++field) {
            pb::put_key(legacy, (uint32_t)field, pb::kVarint);
            pb::put_varint(legacy, field == 2 ? 4 : 1);
        }
        pb::put_len(legacy, 5, data);
        put("binaryproto", "legacy.binaryproto", legacy);
    }

    // index: 64-bit codes with float32 features, 48-bit codes with float16 features, no features,
    // and float32 features with a provenance section (two data sources). v1_f32.idx is not made
    // here: it is f32.idx as the format-1 writer wrote it (also tests/fixtures/index/v1_f32.idx).
    fs::create_directories(kOut / "index");
    Provenance prov;
    prov.set("dlbhc.version", "0.1.0");
    prov.set("net.name", "small");
    prov.set("net.hash", "0123456789abcdef");
    prov.set("weights.hash", "fedcba9876543210");
    prov.set("preprocess.input", "1x28x28");
    prov.add_source({"data/train", "", 3});
    prov.add_source({"list.txt", "images", 2});
    for (int variant = 0; variant < 4; ++variant) {
        const int bits = variant == 1 ? 48 : 64, n = 5, d = 4;
        CodeSet codes(bits);
        std::vector<float> act((size_t)bits), feats((size_t)n * d);
        std::vector<int32_t> labels;
        std::vector<std::string> names;
        for (int i = 0; i < n; ++i) {
            for (int b = 0; b < bits; ++b) act[(size_t)b] = ((b * 7 + i * 3) % 5) < 2 ? 0.9f : 0.1f;
            codes.add_activations(act.data(), 1);
            labels.push_back(i % 3);
            names.push_back("img/" + std::to_string(i) + ".png");
            for (int j = 0; j < d; ++j) feats[(size_t)i * d + j] = 0.25f * (float)(i - j);
        }
        IndexItems it;
        it.codes = codes.view();
        it.labels = labels.data();
        it.names = &names;
        IndexWriteOptions wo;
        if (variant != 2) {
            it.features = feats.data();
            it.feature_dim = d;
            wo.feature_storage = variant == 1 ? FeatureType::F16 : FeatureType::F32;
        }
        if (variant == 3) it.provenance = &prov;
        const char* fname[] = {"f32.idx", "f16.idx", "codes_only.idx", "provenance.idx"};
        write_index((kOut / "index" / fname[variant]).string(), it, wo);
    }
    std::printf("seeds written under %s\n", kOut.c_str());
    return 0;
}
