// data/idx.cpp -- IDX parsing and the MNIST readers (see idx.h).
#include "data/idx.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "data/gzip.h"
#include "io/path.h"
#include "io/byte_order.h"
#include "io/file_io.h"

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

// The header checks of parse_idx_u8 for a file of n bytes whose first min(n, 20) bytes are at b:
// the dims and where the elements start (no bytes).
IdxArray parse_idx_header(const uint8_t* b, uint64_t n, const std::string& name) {
    const std::string who = "IDX file '" + name + "'";
    const uint8_t* bytes = b;
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
        a.dims.push_back(load_be32(bytes + 4 + 4 * d));
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
    return a;
}

}  // namespace

IdxArray parse_idx_u8(std::vector<uint8_t> bytes, const std::string& name) {
    IdxArray a = parse_idx_header(bytes.data(), bytes.size(), name);
    a.bytes = std::move(bytes);
    return a;
}

IdxArray read_idx_u8(const std::string& path) { return parse_idx_u8(read_maybe_gzip(path, "IDX file"), path); }

namespace {

// What load_mnist checks of the images' dims (idx3, sides up to 65535) and, once the labels are
// read, of theirs (idx1, as many as the images).
void check_mnist_images(const std::vector<uint32_t>& dims, const std::string& images_path) {
    if (dims.size() != 3)
        throw std::runtime_error("MNIST image file '" + images_path + "': expected an idx3 file (N, rows, cols), found " +
                                 std::to_string(dims.size()) + " dimensions " + dims_str(dims));
}

void check_mnist_labels(const std::vector<uint32_t>& img, const std::vector<uint32_t>& lab, const std::string& images_path,
                        const std::string& labels_path) {
    if (lab.size() != 1)
        throw std::runtime_error("MNIST label file '" + labels_path + "': expected an idx1 file (N), found " +
                                 std::to_string(lab.size()) + " dimensions " + dims_str(lab));
    if (lab[0] != img[0])
        throw std::runtime_error("MNIST files '" + images_path + "' and '" + labels_path + "': expected as many labels as images, found " +
                                 std::to_string(lab[0]) + " labels for " + std::to_string(img[0]) + " images");
    if (img[1] > 65535 || img[2] > 65535)
        throw std::runtime_error("MNIST image file '" + images_path + "': image size " + dims_str(img) +
                                 " has a side above 65535");
}

// MNIST images read from a plain idx file as the items are taken (pread, so from any thread),
// the labels held: a byte per item in memory instead of rows x cols, so that encoding a large
// dataset does not hold its pixels. Names and labels as load_mnist's.
class IdxFileDataset : public Dataset {
public:
    IdxFileDataset(InputFile images, const std::string& path, uint64_t offset, int rows, int cols,
                   std::vector<uint8_t> labels, std::string split)
        : images_(std::move(images)), path_(path), offset_(offset), rows_(rows), cols_(cols),
          labels_(std::move(labels)), split_(std::move(split)) {
        for (uint8_t l : labels_) max_label_ = std::max(max_label_, (int)l);
    }
    size_t size() const override { return labels_.size(); }
    int num_classes() const override { return max_label_ + 1; }
    int channels() const override { return 1; }
    int height() const override { return rows_; }
    int width() const override { return cols_; }
    void item(size_t i, Image& out) const override {
        check_index(i);
        out.resize(1, rows_, cols_);
        const size_t bytes = (size_t)rows_ * cols_;
        const uint64_t at = offset_ + (uint64_t)i * bytes;
        for (size_t got = 0; got < bytes;) {
            const ssize_t r = ::pread(images_.fd(), out.pixels.data() + got, bytes - got, (off_t)(at + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0)
                throw std::runtime_error("MNIST image file '" + path_ + "': expected " + std::to_string(bytes) +
                                         " bytes of item " + std::to_string(i) + " at byte " + std::to_string(at) +
                                         ", found " + (r < 0 ? std::string(std::strerror(errno)) : "the end of the file") +
                                         " (changed while being read?)");
            got += (size_t)r;
        }
    }
    int label(size_t i) const override {
        check_index(i);
        return labels_[i];
    }
    std::string name(size_t i) const override {
        check_index(i);
        return split_ + "[" + std::to_string(i) + "]";
    }

private:
    void check_index(size_t i) const {
        if (i >= labels_.size()) throw_index_error("MNIST image file '" + path_ + "'", i, labels_.size());
    }
    InputFile images_;
    std::string path_;
    uint64_t offset_;
    int rows_, cols_, max_label_ = -1;
    std::vector<uint8_t> labels_;
    std::string split_;
};

std::unique_ptr<Dataset> open_mnist_plain(const std::string& images_path, const std::string& labels_path,
                                          const std::string& split) {
    InputFile in(images_path, "IDX file '" + images_path + "'");
    uint8_t head[20];
    size_t got = 0;
    while (got < sizeof head) {
        const size_t r = in.read(head + got, sizeof head - got);
        if (r == 0) break;
        got += r;
    }
    const IdxArray img = parse_idx_header(head, in.size(), images_path);
    check_mnist_images(img.dims, images_path);
    IdxArray lab = read_idx_u8(labels_path);
    check_mnist_labels(img.dims, lab.dims, images_path, labels_path);
    std::vector<uint8_t> labels(lab.data(), lab.data() + lab.count());
    return std::make_unique<IdxFileDataset>(std::move(in), images_path, img.offset, (int)img.dims[1], (int)img.dims[2],
                                            std::move(labels), split);
}

}  // namespace

std::unique_ptr<MemoryDataset> load_mnist(const std::string& images_path, const std::string& labels_path,
                                          const std::string& split) {
    IdxArray img = read_idx_u8(images_path);
    check_mnist_images(img.dims, images_path);
    IdxArray lab = read_idx_u8(labels_path);
    check_mnist_labels(img.dims, lab.dims, images_path, labels_path);
    const int rows = (int)img.dims[1], cols = (int)img.dims[2];
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

namespace {

// The images and labels files of `split` in `dir` (load_mnist_dir's search and errors).
std::pair<std::string, std::string> mnist_paths(const std::string& dir, const std::string& split) {
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
    const std::string images = find("images");
    return {images, find("labels")};
}

bool gz_name(const std::string& p) { return p.size() >= 3 && p.compare(p.size() - 3, 3, ".gz") == 0; }

}  // namespace

std::unique_ptr<MemoryDataset> load_mnist_dir(const std::string& dir, const std::string& split) {
    const auto paths = mnist_paths(dir, split);
    return load_mnist(paths.first, paths.second, split);
}

std::unique_ptr<Dataset> open_mnist_dir(const std::string& dir, const std::string& split) {
    const auto paths = mnist_paths(dir, split);
    if (gz_name(paths.first)) return load_mnist(paths.first, paths.second, split);
    return open_mnist_plain(paths.first, paths.second, split);
}

}  // namespace dlbhc
