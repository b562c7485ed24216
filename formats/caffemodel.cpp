// formats/caffemodel.cpp -- see caffemodel.h for the field numbers.
#include "formats/caffemodel.h"

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "io/file_io.h"

namespace dlbhc {

// ---- BlobProto ----------------------------------------------------------------------------------

namespace {

// The BlobProto read by `r`; `fail` throws for what the message says wrongly (it names where).
template <class Fail>
NamedTensor decode_blob(pb::Reader r, const Fail& fail, const std::string& what) {
    int64_t legacy[4] = {0, 0, 0, 0};
    bool has_legacy = false;
    std::vector<int64_t> shape;
    bool has_shape = false;
    NamedTensor t;
    t.name = what;
    std::vector<double> dbl;
    pb::Field f;
    while (r.next(f)) {
        switch (f.number) {
        case 1:
        case 2:
        case 3:
        case 4: {
            int64_t v = r.as_int(f);
            if (v < 0) r.fail(f, what + ": negative dimension " + std::to_string(v));
            legacy[f.number - 1] = v;
            has_legacy = true;
            break;
        }
        case 5: r.append_floats(f, t.data); break;
        case 7: {
            has_shape = true;
            shape.clear();
            pb::Reader s = r.sub(f);
            pb::Field d;
            while (s.next(d))
                if (d.number == 1) s.append_ints(d, shape);
            for (int64_t v : shape)
                if (v < 0) r.fail(f, what + ": negative dimension " + std::to_string(v) + " in BlobShape");
            break;
        }
        case 8: r.append_doubles(f, dbl); break;
        default: break;  // diff 6, double_diff 9 and unknown fields
        }
    }
    if (!dbl.empty()) {
        if (!t.data.empty())
            fail(what + ": has both float data (" + std::to_string(t.data.size()) + " values) and double_data (" +
                 std::to_string(dbl.size()) + " values)");
        t.data.resize(dbl.size());
        for (size_t i = 0; i < dbl.size(); ++i) {
            t.data[i] = (float)dbl[i];
            if (std::isfinite(dbl[i]) && !std::isfinite(t.data[i]))
                fail(what + ": double_data value " + std::to_string(dbl[i]) + " at index " + std::to_string(i) +
                     " does not fit in float32");
        }
    }
    if (has_legacy) t.dims.assign(legacy, legacy + 4);
    else if (has_shape) t.dims = shape;
    else if (!t.data.empty())
        fail(what + ": has " + std::to_string(t.data.size()) +
             " values but no shape (neither num/channels/height/width nor shape)");
    else
        fail(what + ": empty (no shape and no data)");
    uint64_t count = 0;
    const bool fits = dims_product(t.dims, &count);
    if (!fits || count != t.data.size())
        fail(what + ": shape " + t.shape_str() + " has " + (fits ? std::to_string(count) : std::string("more than 2^64")) +
             " values, the blob holds " + std::to_string(t.data.size()));
    return t;
}

}  // namespace

NamedTensor decode_blobproto(const pb::Reader& parent, const pb::Field& blob_field, const std::string& what) {
    return decode_blob(parent.sub(blob_field), [&](const std::string& m) { parent.fail(blob_field, m); }, what);
}

NamedTensor read_binaryproto(const std::string& path) {
    MappedFile m(path, "binaryproto file");
    return decode_binaryproto(m.data(), m.size(), path);
}

NamedTensor decode_binaryproto(const uint8_t* data, size_t size, const std::string& path) {
    // The whole file is one BlobProto.
    NamedTensor t = decode_blob(pb::Reader(data, size, path),
                                [&](const std::string& msg) -> void { throw std::runtime_error(path + ": " + msg); },
                                "BlobProto");
    t.name = path;
    return t;
}

// ---- type names ---------------------------------------------------------------------------------

std::string caffe_v1_type_name(int64_t v) {
    static const std::map<int64_t, const char*> names = {
        {0, "None"},           {35, "AbsVal"},        {1, "Accuracy"},       {30, "ArgMax"},
        {2, "BNLL"},           {3, "Concat"},         {37, "ContrastiveLoss"}, {4, "Convolution"},
        {5, "Data"},           {39, "Deconvolution"}, {6, "Dropout"},        {32, "DummyData"},
        {7, "EuclideanLoss"},  {25, "Eltwise"},       {38, "Exp"},           {8, "Flatten"},
        {9, "HDF5Data"},       {10, "HDF5Output"},    {28, "HingeLoss"},     {11, "Im2col"},
        {12, "ImageData"},     {13, "InfogainLoss"},  {14, "InnerProduct"},  {15, "LRN"},
        {29, "MemoryData"},    {16, "MultinomialLogisticLoss"}, {34, "MVN"}, {17, "Pooling"},
        {26, "Power"},         {18, "ReLU"},          {19, "Sigmoid"},       {27, "SigmoidCrossEntropyLoss"},
        {36, "Silence"},       {20, "Softmax"},       {21, "SoftmaxWithLoss"}, {22, "Split"},
        {33, "Slice"},         {23, "TanH"},          {24, "WindowData"},    {31, "Threshold"},
    };
    auto it = names.find(v);
    return it == names.end() ? "V1 type " + std::to_string(v) : it->second;
}

std::string caffe_v0_type_name(const std::string& t) {
    static const std::map<std::string, const char*> names = {
        {"accuracy", "Accuracy"},       {"bnll", "BNLL"},
        {"concat", "Concat"},           {"conv", "Convolution"},
        {"data", "Data"},               {"dropout", "Dropout"},
        {"euclidean_loss", "EuclideanLoss"}, {"flatten", "Flatten"},
        {"hdf5_data", "HDF5Data"},      {"hdf5_output", "HDF5Output"},
        {"im2col", "Im2col"},           {"images", "ImageData"},
        {"infogain_loss", "InfogainLoss"}, {"innerproduct", "InnerProduct"},
        {"lrn", "LRN"},                 {"multinomial_logistic_loss", "MultinomialLogisticLoss"},
        {"pool", "Pooling"},            {"relu", "ReLU"},
        {"sigmoid", "Sigmoid"},         {"softmax", "Softmax"},
        {"softmax_loss", "SoftmaxWithLoss"}, {"split", "Split"},
        {"tanh", "TanH"},               {"window_data", "WindowData"},
    };
    auto it = names.find(t);
    return it == names.end() ? t : it->second;
}

// ---- NetParameter -------------------------------------------------------------------------------

namespace {

std::string blob_what(const std::string& layer, size_t i) {
    return "layer '" + layer + "' blob " + std::to_string(i);
}

// Blobs are decoded after the layer's name is known (the name may follow them on the wire).
void decode_blobs(const pb::Reader& r, const std::vector<pb::Field>& fields, CaffeLayerBlobs& L) {
    for (size_t i = 0; i < fields.size(); ++i) L.blobs.push_back(decode_blobproto(r, fields[i], blob_what(L.name, i)));
}

// A layer message of either version: its name (field 1), type (field 2: a string in V2, V0's
// spelling of it otherwise) and blobs (field 7 in V2's LayerParameter, 50 in V0's).
CaffeLayerBlobs decode_layer(const pb::Reader& parent, const pb::Field& lf, bool v0) {
    pb::Reader r = parent.sub(lf);
    CaffeLayerBlobs L;
    std::vector<pb::Field> blobs;
    pb::Field f;
    while (r.next(f)) {
        if (f.number == 1) L.name = r.as_string(f);
        else if (f.number == 2) L.type = v0 ? caffe_v0_type_name(r.as_string(f)) : r.as_string(f);
        else if (f.number == (v0 ? 50u : 7u)) blobs.push_back(f);
    }
    decode_blobs(r, blobs, L);
    return L;
}

// A V1 layer; sets *had_v0 when it wraps a V0 layer (whose name, type and blobs then count).
CaffeLayerBlobs decode_v1_layer(const pb::Reader& parent, const pb::Field& lf, bool* had_v0) {
    pb::Reader r = parent.sub(lf);
    CaffeLayerBlobs L;
    std::vector<pb::Field> blobs;
    pb::Field f, v0;
    bool has_v0 = false;
    while (r.next(f)) {
        if (f.number == 4) L.name = r.as_string(f);
        else if (f.number == 5) L.type = caffe_v1_type_name(r.as_int(f));
        else if (f.number == 6) blobs.push_back(f);
        else if (f.number == 1) {
            v0 = f;
            has_v0 = true;
        }
    }
    if (has_v0) {
        *had_v0 = true;
        CaffeLayerBlobs old = decode_layer(r, v0, true);
        if (L.name.empty()) L.name = old.name;
        if (L.type.empty()) L.type = old.type;
        if (!blobs.empty() && !old.blobs.empty())
            r.fail(v0, "layer '" + L.name + "' has blobs in both its V1 fields (6) and its V0 layer (field 50)");
        L.blobs = std::move(old.blobs);
    }
    if (L.blobs.empty()) decode_blobs(r, blobs, L);
    return L;
}

}  // namespace

CaffeModel decode_caffemodel(const uint8_t* data, size_t size, const std::string& file) {
    pb::Reader r(data, size, file);
    CaffeModel m;
    pb::Field f;
    size_t n_v2 = 0, n_v1 = 0;
    bool any_v0 = false;
    while (r.next(f)) {
        if (f.number == 1) {
            if (f.type != pb::kLen)
                r.fail(f, "expected NetParameter.name (a string, wire type 2), found wire type " +
                              std::to_string(f.type) + ": not a .caffemodel (a .binaryproto mean starts with a varint)");
            m.name = r.as_string(f);
        } else if (f.number == 100) {
            ++n_v2;
            m.layers.push_back(decode_layer(r, f, false));
        } else if (f.number == 2) {
            ++n_v1;
            m.layers.push_back(decode_v1_layer(r, f, &any_v0));
        }
    }
    if (n_v2 && n_v1)
        throw std::runtime_error(file + ": expected either V2 layers (NetParameter field 100, " + std::to_string(n_v2) +
                                 " found) or V1 layers (field 2, " + std::to_string(n_v1) + " found), not both");
    if (!n_v2 && !n_v1)
        throw std::runtime_error(file + ": expected a Caffe NetParameter with layers (field 100 or 2), found " +
                                 (size ? "none (is this a .caffemodel?)" : std::string("an empty file")));
    m.layout = n_v2 ? 2 : any_v0 ? 0 : 1;
    return m;
}

CaffeModel read_caffemodel(const std::string& path) {
    MappedFile mf(path, "caffemodel file");
    return decode_caffemodel(mf.data(), mf.size(), path);
}

// ---- to the weights format ----------------------------------------------------------------------

static void drop_leading_ones(std::vector<int64_t>& dims, size_t keep) {
    while (dims.size() > keep && dims[0] == 1) dims.erase(dims.begin());
}

ImportedWeights caffemodel_to_weights(const CaffeModel& m, const std::string& file) {
    ImportedWeights out;
    static const char* layouts[] = {"V0 layout (V1 'layers' wrapping V0 'layer', blobs field 50)",
                                    "V1 layout (NetParameter.layers, field 2)",
                                    "V2 layout (NetParameter.layer, field 100)"};
    out.format = std::string("caffemodel, ") + layouts[m.layout < 0 || m.layout > 2 ? 2 : m.layout];
    std::set<std::string> seen;
    for (const CaffeLayerBlobs& L : m.layers) {
        if (L.blobs.empty()) continue;
        if (L.name.empty())
            throw std::runtime_error(file + ": a " + L.type + " layer with " + std::to_string(L.blobs.size()) +
                                     " blobs has no name (weights are matched by layer name)");
        if (!seen.insert(L.name).second)
            throw std::runtime_error(file + ": two layers with blobs are named '" + L.name +
                                     "' (weights are matched by layer name)");
        const bool has_bias_blob = L.type == "Convolution" || L.type == "Deconvolution" || L.type == "InnerProduct";
        for (size_t i = 0; i < L.blobs.size(); ++i) {
            NamedTensor t = L.blobs[i];
            const std::string stored = t.shape_str();
            t.name = L.name + (i == 0 ? ".weight" : i == 1 ? ".bias" : ".blob" + std::to_string(i));
            if (i == 0 && L.type == "InnerProduct") drop_leading_ones(t.dims, 2);
            if (i == 1 && has_bias_blob) drop_leading_ones(t.dims, 1);
            std::string origin = "layer " + L.name + " (" + L.type + ") blob " + std::to_string(i);
            if (t.shape_str() != stored) origin += ", stored as " + stored;
            out.weights.tensors.push_back(std::move(t));
            out.origin.push_back(origin);
        }
    }
    for (const CaffeLayerBlobs& L : m.layers)
        if (L.blobs.empty()) out.notes.push_back("layer " + L.name + " (" + L.type + "): no blobs");
    out.weights.source = file;
    return out;
}

ImportedWeights mean_to_weights(const NamedTensor& mean, const std::string& file) {
    NamedTensor t = mean;
    if (t.dims.size() == 4 && t.dims[0] == 1) t.dims.erase(t.dims.begin());
    if (t.dims.size() != 3)
        throw std::runtime_error(file + ": expected a mean image of shape (1, C, H, W) or (C, H, W), found " +
                                 mean.shape_str());
    t.name = "mean";
    ImportedWeights out;
    out.format = "binaryproto (one BlobProto: a mean image)";
    out.origin.push_back("BlobProto " + mean.shape_str());
    out.weights.tensors.push_back(std::move(t));
    out.weights.source = file;
    return out;
}

}  // namespace dlbhc
