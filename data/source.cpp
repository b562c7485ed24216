// data/source.cpp -- see source.h.
#include "data/source.h"

#include <cstdio>
#include <stdexcept>

#include "data/cifar.h"
#include "data/idx.h"
#include "formats/caffemodel.h"
#include "formats/weights_file.h"
#include "io/file_io.h"
#include "io/read_file.h"

namespace dlbhc {

namespace {

// Where a file is expected, anything but a folder counts as there: it is then opened as an
// InputFile, which names a FIFO or a device ("expected a regular file, found a FIFO") where a
// probe for regular files would have said "not found".
bool exists_as_file(const std::string& p) { return path_exists(p) && !is_directory(p); }
bool exists_plain_or_gz(const std::string& p) { return exists_as_file(p) || exists_as_file(p + ".gz"); }

// "a/b/c" -> ("a/b", "c"); "c" -> (".", "c").
void split_path(const std::string& spec, std::string& dir, std::string& base) {
    std::string s = spec;
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    size_t slash = s.rfind('/');
    dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : s.substr(0, slash));
    base = slash == std::string::npos ? s : s.substr(slash + 1);
}

}  // namespace

std::unique_ptr<Dataset> open_dataset(const std::string& spec, const SourceOptions& opt, LoadReport* report) {
    if (spec.empty()) throw std::invalid_argument("no dataset given (empty path)");
    std::string dir, split;
    split_path(spec, dir, split);
    // MNIST-format idx files: DIR/train or DIR/t10k.
    const std::string idx_split = split == "test" ? "t10k" : split;
    if (is_directory(dir) && (exists_plain_or_gz(dir + "/" + idx_split + "-images-idx3-ubyte") ||
                              exists_plain_or_gz(dir + "/" + idx_split + "-images.idx3-ubyte")))
        return load_mnist_dir(dir, idx_split);
    // CIFAR-10 binary batches: DIR/train or DIR/test.
    if (is_directory(dir) && (split == "train" || split == "test") &&
        exists_as_file(dir + "/" + (split == "train" ? "data_batch_1.bin" : "test_batch.bin")))
        return load_cifar10_dir(dir, split);
    if (exists_as_file(spec)) {
        std::string list_dir, base;
        split_path(spec, list_dir, base);
        return ImageFolderDataset::from_list(spec, opt.root.empty() ? list_dir : opt.root, opt.images, report);
    }
    if (is_directory(spec)) return ImageFolderDataset::from_folder(spec, opt.images, report);
    throw std::runtime_error("dataset '" + spec + "' not found: expected DIR/SPLIT with MNIST idx files (" + dir + "/" +
                             idx_split + "-images-idx3-ubyte[.gz]), CIFAR-10 batches (" + dir +
                             "/data_batch_1.bin or test_batch.bin), a list file, or a folder of class folders");
}

TransformParam transform_from_spec(const TransformSpec& t, Phase phase, const std::string& base_dir) {
    TransformParam p;
    p.phase = phase;
    p.crop = t.crop_size;
    p.mirror = t.mirror;
    p.scale = t.scale;
    p.mean_values = t.mean_value;
    p.force_color = t.force_color;
    if (!t.mean_file.empty()) {
        std::string path = t.mean_file;
        if (!exists_as_file(path) && !base_dir.empty() && path[0] != '/' && exists_as_file(base_dir + "/" + path))
            path = base_dir + "/" + path;
        if (!exists_as_file(path))
            throw std::runtime_error("mean_file '" + t.mean_file + "' not found" +
                                     (base_dir.empty() ? std::string() : " (also tried relative to " + base_dir + ")"));
        NamedTensor mean;
        unsigned char magic[8] = {0};
        const size_t got = InputFile(path, "mean file '" + path + "'").read(magic, 8);
        if (got == 8 && has_weights_magic(magic, 8)) {
            WeightsFile w = read_weights(path);
            const NamedTensor* m = w.find("mean");
            if (!m) throw std::runtime_error("mean file '" + path + "': a weights file without a tensor named 'mean'");
            mean = *m;
        } else {
            mean = mean_to_weights(read_binaryproto(path), path).weights.tensors.at(0);
        }
        check_finite(mean, "mean file '" + path + "'");  // a NaN mean would make every input NaN
        if (mean.dims.size() != 3)
            throw std::runtime_error("mean file '" + path + "': expected a (C, H, W) mean, found " + mean.shape_str());
        p.mean_c = int(mean.dims[0]);
        p.mean_h = int(mean.dims[1]);
        p.mean_w = int(mean.dims[2]);
        p.mean_image = std::move(mean.data);
        // The paper's images are stored at the mean's size (256 x 256) before cropping.
        p.resize = p.mean_h == p.mean_w ? p.mean_h : 0;
    }
    return p;
}

}  // namespace dlbhc
