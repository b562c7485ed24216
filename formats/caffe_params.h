// formats/caffe_params.h -- readers of the per-type settings blocks of a Caffe layer
// (convolution_param, pooling_param, inner_product_param, lrn_param, dropout_param, relu_param,
// softmax_param, loss_param, accuracy_param, data_param, image_data_param, transform_param,
// weight_filler / bias_filler, BlobShape) and the value checks they share. Internal to
// formats/caffe_spec.cpp, which reads the layers and the net; split off to keep each file to one job.
//
// Every reader first rejects unknown and repeated fields (naming file:line:col), then reads the
// values with Caffe's defaults, then checks their ranges; `what` names the block in errors
// ("convolution_param of layer 'conv1'"). All errors are std::runtime_error from ptx_fail.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "formats/caffe_spec.h"

namespace dlbhc {
namespace caffe {

const int kMaxOutputs = 1 << 24;  // num_output (and group, top_k) above this is surely a typo
const int64_t kMaxDim = 1 << 24;  // largest kernel / stride / pad / input dimension accepted

std::string join(const std::vector<std::string>& v, const char* sep = ", ");
[[noreturn]] void fail_at(const PtxLocation& loc, const std::string& msg);

// An integer field within [lo, hi] (def when absent).
int int_in(const PtxMessage& m, const std::string& name, int def, int64_t lo, int64_t hi);
// A float field that must be finite (def when absent).
float finite_float(const PtxMessage& m, const std::string& name, float def);
// An enum field whose values are `names`; a number n stands for names[n] (def when absent).
std::string enum_of(const PtxMessage& m, const std::string& name, const std::vector<std::string>& names,
                    const std::string& def);
// Rejects fields not in `known`, and repeats of fields not in `repeated`.
void check_fields_once(const PtxMessage& m, const std::vector<std::string>& known,
                       const std::vector<std::string>& repeated, const std::string& what);
// `engine` may be DEFAULT, CAFFE or CUDNN (an implementation choice; ignored).
void check_engine(const PtxMessage& m);

FillerParam read_filler(const PtxField& field, const std::string& where);
ConvParam read_conv(const PtxMessage& m, const std::string& what);
PoolingParam read_pool(const PtxMessage& m, const std::string& what);
InnerProductParam read_inner_product(const PtxMessage& m, const std::string& what);
LRNParam read_lrn(const PtxMessage& m, const std::string& what);
DropoutParam read_dropout(const PtxMessage& m, const std::string& what);
ReLUParam read_relu(const PtxMessage& m, const std::string& what);
void read_softmax(const PtxMessage& m, const std::string& what);  // axis 1 only; nothing to keep
SoftmaxLossParam read_loss(const PtxMessage& m, const std::string& what);
int read_accuracy(const PtxMessage& m, const std::string& what);  // returns top_k
DataSourceSpec read_data_param(const PtxMessage& m, const std::string& what);
DataSourceSpec read_image_data_param(const PtxMessage& m, const std::string& what);
TransformSpec read_transform(const PtxMessage& m, const std::string& what);
// A BlobShape { dim: ... }: 1 to 4 dims, each in [1, kMaxDim].
std::vector<int64_t> read_blob_shape(const PtxField& field, const std::string& what);

}  // namespace caffe
}  // namespace dlbhc
