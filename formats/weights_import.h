// formats/weights_import.h -- reads weights from any format dlbhc understands into an ImportedWeights:
// what `dlbhc convert` does before it writes the result with write_weights.
//
// Formats: a Caffe .caffemodel (formats/caffemodel.h), a Caffe .binaryproto mean image (becomes one
// tensor "mean" (C, H, W)), an ONNX model's initializers (formats/onnx_weights.h), or a dlbhc weights
// file itself (formats/weights_file.h; so `convert --list` can show one). Auto-detection goes by the
// file name extension (.caffemodel, .binaryproto, .onnx, .weights), then by the weights magic.
// The whole input is read and checked before anything is written, so a failed conversion never
// leaves an output file.
#pragma once
#include <string>

#include "formats/weights_file.h"

namespace dlbhc {

enum class WeightsFormat { Auto, Caffemodel, Binaryproto, Onnx, Weights };

// "auto", "caffemodel", "binaryproto", "onnx", "weights"; anything else is std::invalid_argument
// listing the accepted names.
WeightsFormat parse_weights_format(const std::string& name);
const char* weights_format_name(WeightsFormat f);
// The format of `path` by extension, then by content; std::runtime_error when neither tells.
WeightsFormat detect_weights_format(const std::string& path);

// Reads and converts `path`. Adds metadata "converted_from" (the file name without folders) and
// "source_format" (ImportedWeights::format) unless the input is already a weights file.
ImportedWeights import_weights(const std::string& path, WeightsFormat format = WeightsFormat::Auto);

}  // namespace dlbhc
