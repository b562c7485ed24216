// tests/support/tiny_net.h -- the tiny DLBHC-shaped train_val net the end-to-end tests train, index and
// query with: 28x28 grey input, 4x4 average pooling (7x7), fc7 (the features an index stores),
// a latent layer + sigmoid (the codes), a classifier and SoftmaxWithLoss. No convolution, so each
// run takes milliseconds, also in the sanitizer build.
#pragma once
#include <cstdint>
#include <string>

#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"
#include "nn/rng.h"

namespace dlbhc {
namespace test {

struct TinyNet {
    std::string name = "TinyNet";
    std::string source = "a/train";  // both data layers' source
    int train_batch = 8, test_batch = 8;
    int fc7 = 32, latent = 16, classes = 4;
};

inline std::string tiny_net_prototxt(const TinyNet& t) {
    const std::string data = R"(layer { name: "data" type: "Data" top: "data" top: "label" include { phase: PHASE }
  transform_param { scale: 0.00390625 } data_param { source: ")" + t.source + R"(" batch_size: BATCH } }
)";
    auto data_layer = [&](const char* phase, int batch) {
        std::string s = data;
        s.replace(s.find("PHASE"), 5, phase);
        s.replace(s.find("BATCH"), 5, std::to_string(batch));
        return s;
    };
    return "name: \"" + t.name + "\"\n" + data_layer("TRAIN", t.train_batch) + data_layer("TEST", t.test_batch) +
           R"(layer { name: "pool1" type: "Pooling" bottom: "data" top: "pool1" pooling_param { pool: AVE kernel_size: 4 stride: 4 } }
layer { name: "fc7" type: "InnerProduct" bottom: "pool1" top: "fc7" inner_product_param { num_output: )" +
           std::to_string(t.fc7) + R"( weight_filler { type: "xavier" } } }
layer { name: "relu7" type: "ReLU" bottom: "fc7" top: "fc7" }
layer { name: "fc8_kevin" type: "InnerProduct" bottom: "fc7" top: "fc8_kevin"
  inner_product_param { num_output: )" +
           std::to_string(t.latent) + R"( weight_filler { type: "xavier" } } }
layer { name: "fc8_kevin_encode" type: "Sigmoid" bottom: "fc8_kevin" top: "fc8_kevin_encode" }
layer { name: "fc8_pascal" type: "InnerProduct" bottom: "fc8_kevin_encode" top: "fc8_pascal"
  inner_product_param { num_output: )" +
           std::to_string(t.classes) + R"( weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc8_pascal" bottom: "label" top: "loss" }
)";
}

// Weights for the net of the prototxt file `net` (a tiny net's, or any other) fed `channels` x 28 x
// 28 images, drawn from its fillers with `seed`, written to the file `weights`.
inline void write_filler_weights(const std::string& net, const std::string& weights, uint64_t seed,
                                 int channels = 1) {
    NetBuildOptions bo;
    bo.batch = 1, bo.channels = channels, bo.height = 28, bo.width = 28;
    auto n = build_net(load_net_spec(net), Phase::Test, bo);
    Rng init(seed);
    n->init_params(init);
    write_weights(weights, weights_from_net(*n));
}

}  // namespace test
}  // namespace dlbhc
