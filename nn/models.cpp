// nn/models.cpp -- see models.h.
#include "nn/models.h"

#include "nn/accuracy.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/inner_product.h"
#include "nn/lrn.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/sigmoid.h"
#include "nn/softmax_loss.h"

namespace dlbhc {

namespace {

// lr_mult / decay_mult pairs (weight, bias) from the authors' prototxt.
const std::vector<ParamSpec> kNormal = {{1, 1}, {2, 0}};
const std::vector<ParamSpec> kClassifier = {{10, 1}, {20, 0}};

void conv(Net& net, const std::string& name, const std::string& bottom, int num_output, int kernel, int stride,
          int pad, int group, FillerParam wf, float bias) {
    ConvParam p = ConvParam::square(num_output, kernel, stride, pad, group);
    p.weight_filler = wf;
    p.bias_filler = FillerParam::constant(bias);
    auto layer = std::make_unique<ConvolutionLayer>(name, p);
    layer->set_param_specs(kNormal);
    net.add(std::move(layer), {bottom}, {name});
}

void fc(Net& net, const std::string& name, const std::string& bottom, int num_output, FillerParam wf, float bias,
        const std::vector<ParamSpec>& specs = kNormal) {
    InnerProductParam p;
    p.num_output = num_output;
    p.weight_filler = wf;
    p.bias_filler = FillerParam::constant(bias);
    auto layer = std::make_unique<InnerProductLayer>(name, p);
    layer->set_param_specs(specs);
    net.add(std::move(layer), {bottom}, {name});
}

void relu(Net& net, const std::string& name, const std::string& blob) {
    net.add(std::make_unique<ReLULayer>(name), {blob}, {blob});
}

void maxpool(Net& net, const std::string& name, const std::string& bottom, int kernel, int stride) {
    net.add(std::make_unique<PoolingLayer>(name, PoolingParam::square(PoolingParam::MAX, kernel, stride)), {bottom}, {name});
}

void lrn(Net& net, const std::string& name, const std::string& bottom) {
    LRNParam p;
    p.local_size = 5;
    p.alpha = 1e-4f;
    p.beta = 0.75f;
    net.add(std::make_unique<LRNLayer>(name, p), {bottom}, {name});
}

// CaffeNet pools then normalises; BVLC AlexNet normalises then pools (both 3x3 stride 2 pooling,
// LRN local_size 5, alpha 1e-4, beta 0.75). Returns the blob the next convolution reads.
std::string pool_and_norm(Net& net, bool alexnet_order, const std::string& bottom, const std::string& pool,
                          const std::string& norm) {
    if (alexnet_order) {
        lrn(net, norm, bottom);
        maxpool(net, pool, norm, 3, 2);
        return pool;
    }
    maxpool(net, pool, bottom, 3, 2);
    lrn(net, norm, pool);
    return norm;
}

// The latent layer fc8_kevin starts from latent_filler and latent_bias; its sigmoid output is the code.
void latent_and_classifier(Net& net, const DlbhcNetConfig& cfg, const std::string& feature, FillerParam latent_filler,
                           float latent_bias) {
    fc(net, "fc8_kevin", feature, cfg.latent_bits, latent_filler, latent_bias);
    net.add(std::make_unique<SigmoidLayer>("fc8_kevin_encode"), {"fc8_kevin"}, {"fc8_kevin_encode"});
    fc(net, "fc8_pascal", "fc8_kevin_encode", cfg.num_classes, FillerParam::gaussian(0.01f), 0.0f, kClassifier);
    if (cfg.with_loss) {
        net.add(std::make_unique<SoftmaxWithLossLayer>("loss"), {"fc8_pascal", "label"}, {"loss"});
        net.add(std::make_unique<AccuracyLayer>("accuracy"), {"fc8_pascal", "label"}, {"accuracy"}, 0.0f);
    }
}

}  // namespace

std::unique_ptr<Net> build_caffenet_dlbhc(const DlbhcNetConfig& cfg) {
    auto net = std::make_unique<Net>(cfg.alexnet_order ? "AlexNet-DLBHC" : "CaffeNet-DLBHC");
    net->add_input("data", Shape(cfg.batch, 3, 227, 227));
    if (cfg.with_loss) net->add_input("label", Shape(cfg.batch));
    const FillerParam g01 = FillerParam::gaussian(0.01f), g005 = FillerParam::gaussian(0.005f);
    conv(*net, "conv1", "data", 96, 11, 4, 0, 1, g01, 0.0f);  // (N, 96, 55, 55)
    relu(*net, "relu1", "conv1");
    std::string x = pool_and_norm(*net, cfg.alexnet_order, "conv1", "pool1", "norm1");  // (N, 96, 27, 27)
    conv(*net, "conv2", x, 256, 5, 1, 2, 2, g01, 1.0f);                                // (N, 256, 27, 27)
    relu(*net, "relu2", "conv2");
    x = pool_and_norm(*net, cfg.alexnet_order, "conv2", "pool2", "norm2");  // (N, 256, 13, 13)
    conv(*net, "conv3", x, 384, 3, 1, 1, 1, g01, 0.0f);                     // (N, 384, 13, 13)
    relu(*net, "relu3", "conv3");
    conv(*net, "conv4", "conv3", 384, 3, 1, 1, 2, g01, 1.0f);  // (N, 384, 13, 13)
    relu(*net, "relu4", "conv4");
    conv(*net, "conv5", "conv4", 256, 3, 1, 1, 2, g01, 1.0f);  // (N, 256, 13, 13)
    relu(*net, "relu5", "conv5");
    maxpool(*net, "pool5", "conv5", 3, 2);                     // (N, 256, 6, 6) = 9216
    fc(*net, "fc6", "pool5", 4096, g005, 1.0f);
    relu(*net, "relu6", "fc6");
    net->add(std::make_unique<DropoutLayer>("drop6", DropoutParam{0.5f, cfg.dropout_seed}), {"fc6"}, {"fc6"});
    fc(*net, "fc7", "fc6", 4096, g005, 1.0f);
    relu(*net, "relu7", "fc7");
    net->add(std::make_unique<DropoutLayer>("drop7", DropoutParam{0.5f, cfg.dropout_seed + 1}), {"fc7"}, {"fc7"});
    // The authors' latent layer: Gaussian std 0.005, bias 1.
    latent_and_classifier(*net, cfg, "fc7", g005, 1.0f);
    return net;
}

std::unique_ptr<Net> build_small_dlbhc(const DlbhcNetConfig& cfg, int channels, int size) {
    auto net = std::make_unique<Net>("SmallDLBHC");
    net->add_input("data", Shape(cfg.batch, channels, size, size));
    if (cfg.with_loss) net->add_input("label", Shape(cfg.batch));
    const FillerParam xavier = FillerParam::xavier();
    conv(*net, "conv1", "data", 32, 5, 1, 0, 1, xavier, 0.0f);  // (N, 32, 24, 24) at 28 x 28
    relu(*net, "relu1", "conv1");
    maxpool(*net, "pool1", "conv1", 2, 2);                        // (N, 32, 12, 12)
    conv(*net, "conv2", "pool1", 64, 5, 1, 0, 1, xavier, 0.0f);  // (N, 64, 8, 8)
    relu(*net, "relu2", "conv2");
    maxpool(*net, "pool2", "conv2", 2, 2);                        // (N, 64, 4, 4) = 1024
    fc(*net, "fc7", "pool2", 500, xavier, 0.0f);
    relu(*net, "relu7", "fc7");
    net->add(std::make_unique<DropoutLayer>("drop7", DropoutParam{0.5f, cfg.dropout_seed}), {"fc7"}, {"fc7"});
    // Xavier and bias 0 for the latent layer, not the authors' start: trained from scratch it
    // learns faster (weights/small_dlbhc_train_val.prototxt says why).
    latent_and_classifier(*net, cfg, "fc7", xavier, 0.0f);
    return net;
}

}  // namespace dlbhc
