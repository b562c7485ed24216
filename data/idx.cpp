// data/idx.cpp -- IDX parsing and the MNIST readers (see idx.h).
#include "data/idx.h"

#include <stdexcept>

#include "data/gzip.h"
#include "io/path.h"
#include "io/byte_order.h"

namespace dlbhc {

namespace {

constexpr int kMaxIdxDims = 4;

std::string hex2(unsigned v) {
    const char* d = "0123456789abcdef";
    return std::string("0x") + d[(v >> 4) & 15] + d[v & 15];
}

std::string dims_str(const std::vector<uint32_t>& d) {
    std::string s = "(";
    for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + ")";
}

const char* type_name(uint8_t t) {
    switch (t) {
        case 0x08: return "unsigned byte";
        case 0x09: return "signed byte";
        case 0x0B: return "int16";
        case 0x0C: return "int32";
        case 0x0D: return "float32";
        case 0x0E: return "float64";
        default: return "unknown";
    }
}

}  // namespace

IdxArray parse_idx_u8(std::vector<uint8_t> bytes, const std::string& name) {
    const std::string who = "IDX file '" + name + "'";
    const size_t n = bytes.size();
    if (n < 4) throw std::runtime_error(who + ": expected a 4-byte header, found only " + std::to_string(n) + " bytes");
    if (bytes[0] != 0 || bytes[1] != 0)
        throw std::runtime_error(who + ": expected the magic bytes 0x00 0x00 at byte 0, found " + hex2(bytes[0]) +
                                 " " + hex2(bytes[1]) + " (not an IDX file)");
    if (bytes[2] != 0x08)
        throw std::runtime_error(who + ": expected element type 0x08 (unsigned byte) at byte 2, found " +
                                 hex2(bytes[2]) + " (" + type_name(bytes[2]) + ")");
    const int ndims = bytes[3];
    if (ndims < 1 || ndims > kMaxIdxDims)
        throw std::runtime_error(who + ": expected 1 to " + std::to_string(kMaxIdxDims) +
                                 " dimensions at byte 3, found " + std::to_string(ndims));
    IdxArray a;
    a.offset = 4 + 4 * (size_t)ndims;
    if (n < a.offset)
        throw std::runtime_error(who + ": the header of " + std::to_string(ndims) + " dimensions needs " +
                                 std::to_string(a.offset) + " bytes, the file has " + std::to_string(n) +
                                 " (truncated file?)");
    uint64_t total = 1;
    bool overflow = false;
    for (int d = 0; d < ndims; ++d) {
        a.dims.push_back(load_be32(bytes.data() + 4 + 4 * d));
        overflow |= __builtin_mul_overflow(total, (uint64_t)a.dims.back(), &total);
    }
    for (int d = 0; d < ndims; ++d)
        if (a.dims[d] == 0)
            throw std::runtime_error(who + ": dimension " + std::to_string(d) + " is 0 in " + dims_str(a.dims) +
                                     " (empty array)");
    const uint64_t have = n - a.offset;
    if (overflow || total != have)
        throw std::runtime_error(who + ": the header's dimensions " + dims_str(a.dims) + " need " +
                                 (overflow ? std::string("more than 2^64") : std::to_string(total)) +
                                 " bytes of data, but the file has " + std::to_string(have) + " after the " +
                                 std::to_string(a.offset) + "-byte header" +
                                 (!overflow && total > have ? " (truncated file?)" : ""));
    a.bytes = std::move(bytes);
    return a;
}

IdxArray read_idx_u8(const std::string& path) { return parse_idx_u8(read_maybe_gzip(path, "IDX file"), path); }

std::unique_ptr<MemoryDataset> load_mnist(const std::string& images_path, const std::string& labels_path,
                                          const std::string& split) {
    IdxArray img = read_idx_u8(images_path);
    if (img.dims.size() != 3)
        throw std::runtime_error("MNIST image file '" + images_path + "': expected an idx3 file (N, rows, cols), found " +
                                 std::to_string(img.dims.size()) + " dimensions " + dims_str(img.dims));
    IdxArray lab = read_idx_u8(labels_path);
    if (lab.dims.size() != 1)
        throw std::runtime_error("MNIST label file '" + labels_path + "': expected an idx1 file (N), found " +
                                 std::to_string(lab.dims.size()) + " dimensions " + dims_str(lab.dims));
    if (lab.dims[0] != img.dims[0])
        throw std::runtime_error("MNIST files '" + images_path + "' and '" + labels_path + "': expected as many labels as images, found " +
                                 std::to_string(lab.dims[0]) + " labels for " + std::to_string(img.dims[0]) + " images");
    const int rows = (int)img.dims[1], cols = (int)img.dims[2];
    if (img.dims[1] > 65535 || img.dims[2] > 65535)
        throw std::runtime_error("MNIST image file '" + images_path + "': image size " + dims_str(img.dims) +
                                 " has a side above 65535");
    auto ds = std::make_unique<MemoryDataset>(1, rows, cols, split);
    const size_t n = img.dims[0], item = (size_t)rows * cols;
    ds->reserve(n);
    for (size_t i = 0; i < n; ++i) ds->add(img.data() + i * item, lab.data()[i]);
    return ds;
}

std::vector<std::string> mnist_file_names(const std::string& dir, const std::string& split, const std::string& kind) {
    const std::string s = split == "test" ? "t10k" : split;
    const std::string d = kind == "images" ? "3" : "1";
    std::vector<std::string> names;
    for (const char* sep : {"-", "."})
        for (const char* gz : {"", ".gz"}) names.push_back(join_path(dir, s + "-" + kind + sep + "idx" + d + "-ubyte" + gz));
    return names;
}

std::string find_mnist_file(const std::string& dir, const std::string& split, const std::string& kind) {
    for (const auto& p : mnist_file_names(dir, split, kind))
        if (exists_as_file(p)) return p;  // read as an InputFile: a FIFO or a device is named
    return "";
}

std::unique_ptr<MemoryDataset> load_mnist_dir(const std::string& dir, const std::string& split) {
    if (split != "train" && split != "t10k" && split != "test")
        throw std::invalid_argument("MNIST folder '" + dir + "': expected the split 'train' or 't10k' (or 'test'), found '" +
                                    split + "'");
    const std::string s = split == "test" ? "t10k" : split;
    auto find = [&](const char* kind) {
        const std::string p = find_mnist_file(dir, s, kind);
        if (!p.empty()) return p;
        std::string tried;
        for (const auto& name : mnist_file_names(dir, s, kind)) tried += (tried.empty() ? "" : ", ") + name;
        throw std::runtime_error("MNIST folder '" + dir + "': no " + kind + " file for split '" + s + "'; tried " + tried);
    };
    const std::string images = find("images"), labels = find("labels");
    return load_mnist(images, labels, split);
}

}  // namespace dlbhc
