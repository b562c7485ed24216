// formats/caffe_params.h -- what the readers of a Caffe layer's settings blocks share: the value
// checks, 2-D sizes, fillers, BlobShape, and the settings of the data layers (data_param,
// image_data_param, transform_param), which are not nn/ layers. The readers of each layer type's
// own block sit with its row in formats/layer_registry.cpp; formats/caffe_spec.cpp reads the
// layers and the net.
//
// Every reader first rejects unknown and repeated fields (naming file:line:col), then reads the
// values with Caffe's defaults, then checks their ranges; `what` names the block in errors
// ("convolution_param of layer 'conv1'"). All errors are std::runtime_error from ptx_fail.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "formats/caffe_spec.h"
#include "nn/filler.h"

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
// The field `name` (an axis), when present, must be 1: dlbhc works on (N, C, H, W).
void check_axis_one(const PtxMessage& m, const std::string& name = "axis");
// Caffe's 2-D size settings: `rep` (repeated in ConvolutionParameter, singular in
// PoolingParameter) holding 1 value for both axes or 2 for (h, w), or the pair hname/wname; each
// in [lo, kMaxDim], def when absent (an error when `required`).
void read_hw(const PtxMessage& m, const std::string& rep, const std::string& hname, const std::string& wname, int def,
             int lo, bool required, const std::string& what, int& h, int& w);

// "%.9g": a float written so that it reads back the same, for descriptions.
std::string fmt(float v);
// "gaussian(mean 0, std 0.01)" and the like.
std::string describe_filler(const FillerParam& f);

FillerParam read_filler(const PtxField& field, const std::string& where);
DataSourceSpec read_data_param(const PtxMessage& m, const std::string& what);
DataSourceSpec read_image_data_param(const PtxMessage& m, const std::string& what);
TransformSpec read_transform(const PtxMessage& m, const std::string& what);
// A BlobShape { dim: ... }: 1 to 4 dims, each in [1, kMaxDim].
std::vector<int64_t> read_blob_shape(const PtxField& field, const std::string& what);

}  // namespace caffe
}  // namespace dlbhc
