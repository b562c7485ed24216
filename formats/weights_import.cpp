// formats/weights_import.cpp -- see weights_import.h.
#include "formats/weights_import.h"

#include <stdexcept>

#include "formats/caffemodel.h"
#include "formats/onnx_weights.h"
#include "io/file_io.h"
#include "io/path.h"

namespace dlbhc {

WeightsFormat parse_weights_format(const std::string& s) {
    if (s == "auto") return WeightsFormat::Auto;
    if (s == "caffemodel") return WeightsFormat::Caffemodel;
    if (s == "binaryproto") return WeightsFormat::Binaryproto;
    if (s == "onnx") return WeightsFormat::Onnx;
    if (s == "weights") return WeightsFormat::Weights;
    throw std::invalid_argument("unknown weights format '" + s +
                                "' (expected auto, caffemodel, binaryproto, onnx or weights)");
}

const char* weights_format_name(WeightsFormat f) {
    switch (f) {
    case WeightsFormat::Auto: return "auto";
    case WeightsFormat::Caffemodel: return "caffemodel";
    case WeightsFormat::Binaryproto: return "binaryproto";
    case WeightsFormat::Onnx: return "onnx";
    case WeightsFormat::Weights: return "weights";
    }
    return "?";
}

static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

WeightsFormat detect_weights_format(const std::string& path) {
    if (ends_with(path, ".caffemodel")) return WeightsFormat::Caffemodel;
    if (ends_with(path, ".binaryproto")) return WeightsFormat::Binaryproto;
    if (ends_with(path, ".onnx")) return WeightsFormat::Onnx;
    if (ends_with(path, ".weights")) return WeightsFormat::Weights;
    MappedFile m(path, "weights input");
    if (has_weights_magic(m.data(), m.size())) return WeightsFormat::Weights;
    throw std::runtime_error("'" + path +
                             "': cannot tell the format from the name (expected .caffemodel, .binaryproto, .onnx or "
                             ".weights); pass --format");
}

ImportedWeights import_weights(const std::string& path, WeightsFormat format) {
    if (format == WeightsFormat::Auto) format = detect_weights_format(path);
    ImportedWeights out;
    switch (format) {
    case WeightsFormat::Caffemodel: out = caffemodel_to_weights(read_caffemodel(path), path); break;
    case WeightsFormat::Binaryproto: out = mean_to_weights(read_binaryproto(path), path); break;
    case WeightsFormat::Onnx: out = read_onnx_weights(path); break;
    case WeightsFormat::Weights:
        out.weights = read_weights(path);
        out.format = "dlbhc weights, version " + std::to_string(kWeightsVersion);
        for (const NamedTensor& t : out.weights.tensors) out.origin.push_back("tensor " + t.name);
        return out;
    case WeightsFormat::Auto: break;
    }
    if (out.weights.tensors.empty())
        throw std::runtime_error("'" + path + "': expected at least one weight tensor, found none (" + out.format + ")");
    out.weights.set_meta("converted_from", base_name(path));
    out.weights.set_meta("source_format", out.format);
    return out;
}

}  // namespace dlbhc
