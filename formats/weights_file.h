// formats/weights_file.h -- dlbhc's own weights file: named float32 tensors plus a small key/value
// metadata section, with a magic, a version and XXH64 checksums.
//
// Every importer (formats/caffemodel.h, formats/onnx_weights.h) produces a WeightsFile; `dlbhc convert`
// writes it; nets load it by parameter name ("conv1.weight", "conv1.bias": Param::name in
// nn/layer.h). Training snapshots use the same format (formats/snapshot.h): the net's parameters, solver
// state as more tensors, scalars such as the iteration or an RNG state in the metadata.
//
// The byte layout (format version 1; all integers little-endian) is documented byte by byte in
// docs/formats.md, "Weights files and snapshots":
//   header (40 bytes): magic "DLBHCWTS", u32 version, u32 tensor count T, u32 metadata count M,
//                      u32 reserved 0, u64 payload bytes P, u64 XXH64 of header bytes [0, 32)
//   payload (P bytes): M metadata entries (u32 key length, key, u64 value length, value), then
//                      T tensors (u32 name length, name, u32 ndim, ndim x u64 dims,
//                      product(dims) x f32 data)
//   trailer (8 bytes): u64 XXH64 of the payload
// The file is exactly 40 + P + 8 bytes. It is written with the atomic writer (io/file_io.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/tensor.h"

namespace dlbhc {

class Net;

// One named tensor: dims outermost first, data row-major (last dim fastest), float32.
// An empty dims list is a scalar (one value).
struct NamedTensor {
    std::string name;
    std::vector<int64_t> dims;
    std::vector<float> data;

    // Product of dims (1 for a scalar). Does not check for overflow: the readers bound dims first.
    size_t count() const;
    // "(96, 3, 11, 11)"; "()" for a scalar.
    std::string shape_str() const;
};

// The product of `dims` in *count; false (and *count unchanged) when a dim is negative or the
// product exceeds 2^64 - 1. A zero dim makes the product 0 whatever the others are. For checking
// the dims a file declares against the values it holds, without overflow.
bool dims_product(const std::vector<int64_t>& dims, uint64_t* count);

// Throws std::runtime_error "<where>: tensor '<name>' holds NaN at element i (of N); expected
// finite values" (or +inf / -inf) for the first non-finite value of t. A trained net never holds
// one; a file that does would make every output NaN, i.e. garbage codes, without any error.
void check_finite(const NamedTensor& t, const std::string& where);

// Converts between NamedTensor and the 4-D Tensor of nn/tensor.h. to_tensor puts dims into
// (N, C, H, W) from the left (a 2-D (O, I) becomes (O, I, 1, 1)); more than 4 dims or a dim above
// INT_MAX is std::invalid_argument naming the tensor. from_tensor drops trailing 1s of the 4-D
// shape (keeping at least one dim): a bias (OC, 1, 1, 1) becomes (OC).
Tensor to_tensor(const NamedTensor& t);
NamedTensor from_tensor(const std::string& name, const Tensor& t);

constexpr uint32_t kWeightsVersion = 1;
constexpr size_t kWeightsHeaderBytes = 40;
constexpr uint32_t kWeightsMaxNameBytes = 4096;  // tensor names and metadata keys
constexpr uint32_t kWeightsMaxDims = 8;

struct WeightsFile {
    std::vector<NamedTensor> tensors;                              // names unique, non-empty
    std::vector<std::pair<std::string, std::string>> metadata;     // keys unique; values are bytes
    std::string source;  // where it was read from (used in error messages; not stored)

    const NamedTensor* find(const std::string& name) const;      // nullptr when absent
    const std::string* meta(const std::string& key) const;       // nullptr when absent
    void set_meta(const std::string& key, const std::string& value);
};

// The net a weights file was trained with, as `dlbhc train` records it in its snapshots and its
// --out file (metadata keys "net.name", "net.hash", "net.file"; docs/formats.md): the net's
// name (the prototxt's `name:`), the hash of its code path (apps/provenance.h: the same net.hash
// an index records) and the prototxt path as given to train. Converted files record none.
struct TrainedNet {
    std::string name, hash, file;  // all empty when not recorded
    bool recorded() const { return !hash.empty() || !name.empty() || !file.empty(); }
};
extern const char* const kMetaNetName;  // "net.name"
extern const char* const kMetaNetHash;  // "net.hash"
extern const char* const kMetaNetFile;  // "net.file"
void set_trained_net(WeightsFile& w, const TrainedNet& net);
TrainedNet trained_net(const WeightsFile& w);

// Serialises to bytes (the whole file). Throws std::invalid_argument on a duplicate or empty name,
// a name or key above kWeightsMaxNameBytes, more than kWeightsMaxDims dims, a negative dim, or
// data whose size differs from the product of dims.
std::string encode_weights(const WeightsFile& w);
// Writes atomically (temporary file + fsync + rename): on any error the target is unchanged.
void write_weights(const std::string& path, const WeightsFile& w);

// Parses a whole file image [data, data + size). `file` names it in errors. Checks, before using
// any field: size, magic, version, header checksum, payload size == file size - 48, payload
// checksum; then every length and dim against the bytes left (so no header field can cause a
// large allocation). Errors are std::runtime_error "weights file '<file>': <what>".
WeightsFile decode_weights(const uint8_t* data, size_t size, const std::string& file);
WeightsFile read_weights(const std::string& path);
// True when the file starts with the weights magic (used by format auto-detection).
bool has_weights_magic(const uint8_t* data, size_t size);

// A file converted from another format (formats/caffemodel.h, formats/onnx_weights.h), with what
// `dlbhc convert` prints about it.
struct ImportedWeights {
    WeightsFile weights;
    std::vector<std::string> origin;  // per tensor: where it came from, e.g. "layer conv1 (Convolution) blob 0"
    std::vector<std::string> notes;   // what was skipped, renamed or transposed, one line each
    std::string format;               // e.g. "caffemodel, V1 layout (NetParameter.layers, field 2)"
};

// What load_weights did.
struct WeightsLoadReport {
    std::vector<std::string> loaded;    // net parameters set from the file
    std::vector<std::string> missing;   // net parameters the file lacks: they keep their values
                                        // (the filler init, if Net::init_params ran)
    std::vector<std::string> unused;    // file tensors that no net parameter uses
    std::vector<std::string> reshaped;  // loaded from a different but equivalent shape, e.g. an old
                                        // Caffe (1, 1, O, I) into (O, I, 1, 1): "name: from -> to"
};

// The net a weights file says it was written for, from its metadata keys net.name and net.file
// ("net 'SmallDLBHC' (weights/small_dlbhc_train_val.prototxt)"); "" when it records none.
std::string recorded_net(const WeightsFile& w);

// Sets every net parameter whose name is a tensor of the file. A tensor matches its parameter when
// both shapes are equal after dropping every dimension of size 1 (so (1, 1, O, I) and (O, I)
// both load into an (O, I, 1, 1) weight, but a transposed (I, O) does not); otherwise this
// throws std::runtime_error naming the file, the layer, the parameter and both shapes: one
// parameter as "weights file 'F': layer 'L' (Type), parameter 'P': the net expects shape ...", or
// a first line "weights file 'F' does not fit net 'N': K parameters differ in shape (the file was
// written for <recorded_net>)" and then one such line per parameter. A tensor
// loaded into the net must hold finite values only (check_finite): this is where every weights
// file, converted Caffe or ONNX model and snapshot reaches a net, for inference or training. All
// tensors are checked before any parameter is changed, so a failed load leaves the net as it was.
WeightsLoadReport load_weights(Net& net, const WeightsFile& w);
// The net's parameters as named tensors (from_tensor shapes), in layer order.
WeightsFile weights_from_net(Net& net);

}  // namespace dlbhc
