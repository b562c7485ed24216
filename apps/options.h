// apps/options.h -- the options the subcommands share and the checks made on them before any
// work: --net, --weights, --mean, --bits, --classes, --batch, --root, --strict, --max-pixels
// (PipelineOptions), the inputs options name (for refuse_overwriting_inputs, io/file_io.h) and the
// files a dataset given on the command line reads.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/source.h"
#include "io/file_io.h"

namespace dlbhc {

class Args;

// How a command runs a net on data: its prototxt, the sizes that override it and how the data is
// read. The data path of a Caffe net is described by its data layers (apps/net_setup.h); these
// override their sources, batch, latent size and class count, so one prototxt serves any dataset.
struct PipelineOptions {
    std::string net_path;     // the prototxt
    int latent_bits = 0;      // 0: as in the file
    int num_classes = 0;      // 0: as in the file
    int batch = 0;            // 0: the data layer's batch_size
    uint64_t seed = 1;        // dropout masks, shuffling, crops and mirrors
    bool prefetch = true;     // background batch thread
    std::string root;         // image lists: folder the paths are relative to
    bool strict = false;      // an unreadable image is an error instead of being skipped
    std::string mean_file;    // instead of the data layer's mean (a .binaryproto or a converted mean)
    uint64_t max_pixels = kDefaultMaxPixels;  // images with more pixels are refused from their header
};

// The options every command that runs a trained net shares: --net, --mean, --bits, --classes,
// --batch (default `batch`), --root, --strict, --max-pixels; --net, --weights and --mean are
// checked (check_input_file) now.
PipelineOptions pipeline_options(const Args& a, int batch);
// How the datasets of a run are opened (data/source.h): --root, --strict, --max-pixels.
SourceOptions source_options(const PipelineOptions& po);

// --max-pixels N (a positive integer; default kDefaultMaxPixels). Throws std::invalid_argument.
uint64_t max_pixels_option(const Args& a);
// The help line every command that reads images shows for it.
extern const char* const kMaxPixelsHelp;
// --bits H (1..kMaxCodeBits: the longest hash code) and --classes K (2..caffe::kMaxOutputs); 0
// when absent (as in the prototxt). Throw std::invalid_argument naming the option and the range.
int bits_option(const Args& a);
int classes_option(const Args& a);

// An input file given by an option exists, is not a folder and can be read; for the files a
// command reads only after opening the dataset. Throws std::invalid_argument naming `what`.
void check_input_file(const std::string& path, const std::string& what);
// The values of the options `names` (without "--"), labelled "--name", for
// refuse_overwriting_inputs (io/file_io.h); an option not given has an empty path.
std::vector<NamedPath> option_paths(const Args& a, std::initializer_list<const char*> names);
// The files of the dataset `spec` (data/source.h dataset_files) appended to `inputs` for
// refuse_overwriting_inputs and refuse_inputs_inside_folder, each labelled "<label> <spec>, which
// reads": "--out d/t10k-images-idx3-ubyte is the same file as --data d/t10k, which reads
// d/t10k-images-idx3-ubyte". Nothing for an empty spec.
void add_dataset_inputs(std::vector<NamedPath>& inputs, const std::string& label, const std::string& spec,
                        const SourceOptions& so);

}  // namespace dlbhc
