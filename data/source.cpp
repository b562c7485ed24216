// data/source.cpp -- see source.h.
#include "data/source.h"

#include <cstdio>
#include <stdexcept>

#include "data/cifar.h"
#include "data/idx.h"
#include "formats/caffemodel.h"
#include "formats/weights_file.h"
#include "io/file_io.h"
#include "io/path.h"
#include "io/read_file.h"

namespace dlbhc {

namespace {

bool exists_plain_or_gz(const std::string& p) { return exists_as_file(p) || exists_as_file(p + ".gz"); }

// "a/b/c" and "a/b/c/" -> ("a/b", "c"); "c" -> (".", "c").
void split_path(const std::string& spec, std::string& dir, std::string& base) {
    const std::string s = trim_trailing_slashes(spec);
    dir = parent_folder(s);
    base = base_name(s);
}

// What a dataset spec names (see source.h): the first form that matches.
struct SpecForm {
    enum Kind { Idx, Cifar, List, Folder, None } kind = None;
    std::string dir, split;  // Idx, Cifar: the folder and the split ("t10k" for idx "test")
};

SpecForm spec_form(const std::string& spec) {
    SpecForm f;
    std::string dir, split;
    split_path(spec, dir, split);
    // MNIST-format idx files: DIR/train or DIR/t10k.
    const std::string idx_split = split == "test" ? "t10k" : split;
    if (is_directory(dir) && (exists_plain_or_gz(dir + "/" + idx_split + "-images-idx3-ubyte") ||
                              exists_plain_or_gz(dir + "/" + idx_split + "-images.idx3-ubyte")))
        f.kind = SpecForm::Idx, f.split = idx_split;
    // CIFAR-10 binary batches: DIR/train or DIR/test.
    else if (is_directory(dir) && (split == "train" || split == "test") &&
             exists_as_file(dir + "/" + (split == "train" ? "data_batch_1.bin" : "test_batch.bin")))
        f.kind = SpecForm::Cifar, f.split = split;
    else if (exists_as_file(spec))
        f.kind = SpecForm::List;
    else if (is_directory(spec))
        f.kind = SpecForm::Folder;
    f.dir = dir;
    return f;
}

// The folder a list file's relative image paths are read against.
std::string list_base(const std::string& list, const SourceOptions& opt) {
    if (!opt.root.empty()) return opt.root;
    std::string dir, base;
    split_path(list, dir, base);
    return dir;
}

}  // namespace

std::unique_ptr<Dataset> open_dataset(const std::string& spec, const SourceOptions& opt, LoadReport* report) {
    if (spec.empty()) throw std::invalid_argument("no dataset given (empty path)");
    const SpecForm f = spec_form(spec);
    switch (f.kind) {
    case SpecForm::Idx: return open_mnist_dir(f.dir, f.split);
    case SpecForm::Cifar: return load_cifar10_dir(f.dir, f.split);
    case SpecForm::List: return ImageFolderDataset::from_list(spec, list_base(spec, opt), opt.images, report);
    case SpecForm::Folder: return ImageFolderDataset::from_folder(spec, opt.images, report);
    case SpecForm::None: break;
    }
    std::string dir, split;
    split_path(spec, dir, split);
    const std::string idx_split = split == "test" ? "t10k" : split;
    throw std::runtime_error("dataset '" + spec + "' not found: expected DIR/SPLIT with MNIST idx files (" + dir + "/" +
                             idx_split + "-images-idx3-ubyte[.gz]), CIFAR-10 batches (" + dir +
                             "/data_batch_1.bin or test_batch.bin), a list file, or a folder of class folders");
}

std::vector<std::string> dataset_files(const std::string& spec, const SourceOptions& opt) {
    std::vector<std::string> files;
    if (spec.empty()) return files;
    const SpecForm f = spec_form(spec);
    switch (f.kind) {
    case SpecForm::Idx:
        for (const char* kind : {"images", "labels"}) {
            const std::string p = find_mnist_file(f.dir, f.split, kind);
            if (!p.empty()) files.push_back(p);
        }
        break;
    case SpecForm::Cifar: files = cifar10_batch_files(f.dir, f.split); break;
    case SpecForm::List:
        files.push_back(spec);
        try {
            LoadReport unused;
            const std::vector<uint8_t> bytes = read_file_bytes(spec, "list file", 1ull << 30);
            for (auto& e : parse_image_list(bytes.data(), bytes.size(), spec, list_base(spec, opt), unused))
                files.push_back(std::move(e.path));
        } catch (const std::exception&) {
            // unreadable or malformed: open_dataset reports it, naming the file and line
        }
        break;
    case SpecForm::Folder:
        try {
            for (auto& e : list_image_folder(spec).images) files.push_back(std::move(e.path));
        } catch (const std::exception&) {
            // a folder that cannot be listed: open_dataset reports it
        }
        break;
    case SpecForm::None: break;
    }
    return files;
}

std::string mean_file_path(const TransformSpec& t, const std::string& base_dir) {
    if (t.mean_file.empty()) return "";
    const std::string& path = t.mean_file;
    if (!exists_as_file(path) && !base_dir.empty() && path[0] != '/' && exists_as_file(base_dir + "/" + path)) return base_dir + "/" + path;
    return path;
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
        const std::string path = mean_file_path(t, base_dir);
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
