// formats/caffemodel.h -- Caffe's binary files without libprotobuf: a trained net (.caffemodel, a
// NetParameter) and a mean image (.binaryproto, one BlobProto).
//
// Field numbers (caffe.proto; docs/method.md, "Reading a .caffemodel"):
//   NetParameter      name 1, layers 2 (V1LayerParameter, the "V1" layout), layer 100
//                     (LayerParameter, the current "V2" layout). A file uses one of the two.
//   LayerParameter    name 1, type 2 (string), blobs 7
//   V1LayerParameter  name 4, type 5 (enum, e.g. CONVOLUTION 4, INNER_PRODUCT 14), blobs 6,
//                     layer 1 (a V0LayerParameter: the oldest "V0" layout)
//   V0LayerParameter  name 1, type 2 (string, e.g. "conv", "innerproduct"), blobs 50
//   BlobProto         num 1, channels 2, height 3, width 4 (the old 4-D shape), data 5 (float,
//                     packed or not), diff 6 (ignored), shape 7 (BlobShape: dim 1, int64, packed
//                     or not), double_data 8 (converted to float), double_diff 9 (ignored)
// As in Caffe, the 4-D fields are used when any of them is present (a missing one counts as 0),
// otherwise `shape`; a blob with neither and no data is an error. The number of values must
// equal the product of the dims; a mismatch (also
// from absurd dims, checked without overflow) is an error naming the layer, the blob and both
// numbers. V1 enum and V0 string types are reported under their V2 names ("Convolution").
// Errors are std::runtime_error "<file>: byte <offset>: ..." from the wire reader, or
// "<file>: layer '<name>' blob <i>: ..." for what a well-formed message says wrongly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "formats/protowire.h"
#include "formats/weights_file.h"

namespace dlbhc {

struct CaffeLayerBlobs {
    std::string name;
    std::string type;                // V2 type name
    std::vector<NamedTensor> blobs;  // blob i is named "<layer> blob <i>"; dims as stored
};

struct CaffeModel {
    std::string name;   // NetParameter.name (may be empty)
    int layout = 2;     // 2, 1 or 0 (see the file comment)
    std::vector<CaffeLayerBlobs> layers;  // every layer, in file order, also those without blobs
};

// Parses a whole .caffemodel image; `file` names it in errors.
CaffeModel decode_caffemodel(const uint8_t* data, size_t size, const std::string& file);
CaffeModel read_caffemodel(const std::string& path);

// One BlobProto held by field `f` of the message `r` reads. `what` names it in errors
// ("layer 'conv1' blob 0") and becomes the tensor's name.
NamedTensor decode_blobproto(const pb::Reader& r, const pb::Field& f, const std::string& what);
// A file holding one BlobProto (Caffe's mean files); the tensor is named after the file.
NamedTensor read_binaryproto(const std::string& path);
// The same for a file's `size` bytes in memory; `path` names it in error messages.
NamedTensor decode_binaryproto(const uint8_t* data, size_t size, const std::string& path);

// The V2 type name of a V1 enum value (19 -> "Sigmoid"), or "V1 type <n>" when unknown; and of a
// V0 type string ("innerproduct" -> "InnerProduct"), or the string itself when unknown.
std::string caffe_v1_type_name(int64_t v1_enum);
std::string caffe_v0_type_name(const std::string& v0_type);

// To dlbhc tensor names: blob 0 -> "<layer>.weight", blob 1 -> "<layer>.bias", blob i >= 2 ->
// "<layer>.blob<i>"; layers without blobs give nothing. Old 4-D wrappers are unwrapped: an
// InnerProduct weight (1, 1, O, I) becomes (O, I), and the bias of a Convolution, Deconvolution
// or InnerProduct layer becomes 1-D (1, 1, 1, O) -> (O), so V1 and V2 files of one net give
// identical tensors. Two layers with blobs and the same name are an error.
ImportedWeights caffemodel_to_weights(const CaffeModel& m, const std::string& file);
// A mean image (1, C, H, W) (or (C, H, W)) as one tensor "mean" of shape (C, H, W); any other
// shape is an error naming the file and the shape.
ImportedWeights mean_to_weights(const NamedTensor& mean, const std::string& file);

}  // namespace dlbhc
