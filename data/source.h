// data/source.h -- from a name on the command line (or a data layer's `source`) to a Dataset, and
// from a data layer's transform_param to the Transformer's settings.
//
// A dataset spec is a path, read as (first match wins):
//   DIR/SPLIT       where DIR holds MNIST-format idx files "SPLIT-images-idx3-ubyte[.gz]" and
//                   "SPLIT-labels-idx1-ubyte[.gz]" (SPLIT = train or t10k), e.g.
//                   /usr/share/datasets/fashion-mnist/train
//   DIR/train, DIR/test   where DIR holds CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin)
//   FILE            a Caffe list file: one "relative/path label" per line, paths relative to
//                   `root` (image_data_param.root_folder) or else to the list file's folder
//   DIR             a folder of images with one subfolder per class (sorted names -> labels 0..K-1)
// Anything else is an error that says which of these forms were tried.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_folder.h"
#include "data/transform.h"
#include "formats/caffe_spec.h"

namespace dlbhc {

struct SourceOptions {
    std::string root;               // list files: folder the paths are relative to
    ImageFolderOptions images;      // strict / verify / pixel limit for image folders and lists
};

// Opens the dataset named by spec (see the top of this file). Skipped images of folders and lists
// are reported in `report` (may be null).
std::unique_ptr<Dataset> open_dataset(const std::string& spec, const SourceOptions& opt = {},
                                      LoadReport* report = nullptr);

// Every file the dataset `spec` resolves to, as open_dataset would read it: both idx files (the
// variant actually present, plain or .gz), every CIFAR-10 batch file of the split, a list file and
// every image it names, every candidate image of a folder dataset. No image is opened. For the
// check that no output replaces (or, in a folder replaced as a whole, deletes) an input, before
// the data is read (io/file_io.h refuse_overwriting_inputs). A spec that names nothing gives an
// empty list and a list file that cannot be read or parsed gives the list file alone: opening the
// dataset reports those.
std::vector<std::string> dataset_files(const std::string& spec, const SourceOptions& opt = {});

// The file transform_from_spec reads for t.mean_file: as written when it is a file, else relative
// to `base_dir` when that is one; "" when t has no mean_file.
std::string mean_file_path(const TransformSpec& t, const std::string& base_dir = "");

// transform_param of a data layer -> the Transformer's settings for `phase`. mean_file is read
// (a .binaryproto BlobProto, or a dlbhc weights file holding one tensor named "mean"); a relative
// mean_file path is tried as written, then relative to `base_dir` (the prototxt's folder).
TransformParam transform_from_spec(const TransformSpec& t, Phase phase, const std::string& base_dir = "");

}  // namespace dlbhc
