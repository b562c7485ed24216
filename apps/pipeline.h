// apps/pipeline.h -- what the subcommands share: building a net from a prototxt for a dataset,
// feeding it batches, encoding a dataset into codes and features.
//
// The data path of a Caffe net is described by its data layers: `source` (here a dataset spec,
// data/source.h), batch_size and transform_param (crop, mirror, mean, scale). The TRAIN phase's
// data layer feeds training, the TEST phase's feeds tests and encoding. Command-line options
// override the sources, batch, latent size and class count, so one prototxt serves any dataset.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "data/batcher.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "data/source.h"
#include "formats/caffe_spec.h"
#include "formats/weights_file.h"
#include "hash/code.h"
#include "io/file_io.h"
#include "nn/net.h"
#include "nn/trainer.h"

namespace dlbhc {

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

size_t count_params(Net& net);
void print_load_report(const WeightsLoadReport& rep, const std::string& file);
// Creates the folder that will hold `path` (mkdir -p of its parent) now, to keep it; throws
// naming it on failure. (The atomic writers make missing folders themselves and remove them
// again when the output fails: only a command that wants the folder early calls this.)
void ensure_parent_dir(const std::string& path);
// The folder part of a path ("." when none).
std::string dir_of(const std::string& path);

// An HTML page and the folder beside it for its pictures: for "out/report.html", dir "out" and
// files "report_files" (relative to dir, as the page links it). Creates nothing (the writers of
// HtmlPageWriter in apps/report.h make the missing folders).
struct PageFolder {
    std::string dir, files;
};
PageFolder page_folder(const std::string& html_path);
// The path of that picture folder ("out/report_files"), without creating anything.
std::string page_files_path(const std::string& html_path);

class Args;
// The options every command that runs a trained net shares: --net, --mean, --bits, --classes,
// --batch (default `batch`), --root, --strict.
PipelineOptions pipeline_options(const Args& a, int batch);
// The values of the options `names` (without "--"), labelled "--name", for
// refuse_overwriting_inputs (io/file_io.h); an option not given has an empty path.
std::vector<NamedPath> option_paths(const Args& a, std::initializer_list<const char*> names);
// The files of the dataset `spec` (data/source.h dataset_files) appended to `inputs` for
// refuse_overwriting_inputs and refuse_inputs_inside_folder, each labelled "<label> <spec>, which
// reads": "--out d/t10k-images-idx3-ubyte is the same file as --data d/t10k, which reads
// d/t10k-images-idx3-ubyte". Nothing for an empty spec.
void add_dataset_inputs(std::vector<NamedPath>& inputs, const std::string& label, const std::string& spec,
                        const SourceOptions& so);
// The files a run of the net po.net_path reads through its data layers, appended to `inputs`: the
// mean_file of the data layers it preprocesses with (unless --mean, po.mean_file, replaces it)
// and, when `training`, the sources of the TRAIN and TEST data layers that train_data / test_data
// do not override ("none": no test data), with all their files. A net that cannot be read adds
// nothing (building it reports the error).
void add_net_data_inputs(std::vector<NamedPath>& inputs, const PipelineOptions& po, bool training,
                         const std::string& train_data = "", const std::string& test_data = "");
// --max-pixels N (a positive integer; default kDefaultMaxPixels). Throws std::invalid_argument.
uint64_t max_pixels_option(const Args& a);
// --bits H (1..kMaxCodeBits: the longest hash code) and --classes K (2..caffe::kMaxOutputs); 0
// when absent (as in the prototxt). Throw std::invalid_argument naming the option and the range.
int bits_option(const Args& a);
int classes_option(const Args& a);
// An input file given by an option exists, is not a folder and can be read; for the files a
// command reads only after opening the dataset. Throws std::invalid_argument naming `what`.
void check_input_file(const std::string& path, const std::string& what);
// The help line every command that reads images shows for it.
extern const char* const kMaxPixelsHelp;
SourceOptions source_options(const PipelineOptions& po);

// A Batcher seen as the trainer's BatchSource.
class BatcherSource : public BatchSource {
public:
    BatcherSource(std::unique_ptr<Dataset> ds, const TransformParam& tp, const BatcherOptions& bo)
        : ds_(std::move(ds)), b_(*ds_, tp, bo) {}
    void next(Tensor& data, Tensor& label) override { b_.next(data, label); }
    std::string state() const override { return b_.state().to_bytes(); }
    void restore(const std::string& s) override { b_.restore(BatcherState::from_bytes(s, "snapshot data position")); }
    size_t size() const override { return ds_->size(); }
    bool items_taken(uint64_t* n) const override { return b_.state().items_taken(n); }
    const Dataset& dataset() const { return *ds_; }
    Shape data_shape() const { return b_.data_shape(); }

private:
    std::unique_ptr<Dataset> ds_;
    Batcher b_;
};

struct TrainingSetup {
    NetSpec spec;
    std::unique_ptr<Net> net;                 // TRAIN phase
    std::unique_ptr<BatcherSource> train, test;  // test: null when there is no test data
    std::string train_name, test_name;
    size_t train_size = 0;
    int test_batches = 0;  // batches of the training batch size covering test_iter x the TEST batch size
};

// Opens the data (overrides or the data layers' sources), builds the TRAIN net sized to it.
TrainingSetup make_training_setup(const PipelineOptions& po, const std::string& train_data,
                                  const std::string& test_data, int test_iter);

// A net ready to encode (TEST phase, weights loaded) and the transform of its input.
struct EncodeSetup {
    NetSpec spec;
    std::unique_ptr<Net> net;
    TransformParam transform;
    std::string mean_file;  // --mean, or the data layer's mean_file as written ("" when none)
    std::string latent_blob, feature_blob;
    int bits = 0, feature_dim = 0;
};

// `ds` fixes the input shape (channels, size) for nets whose data layer has no crop. Before the
// mean file is read and the net is built, every layer of the net that holds parameters must have
// tensors in the weights (else an error naming the layers each side has and the net the weights
// record, formats/weights_file.h recorded_net); after loading, every parameter.
EncodeSetup make_encode_setup(const PipelineOptions& po, const std::string& weights_path, const Dataset& ds,
                              bool quiet = false);

// What one image must be for a trained net: its image input (C, H, W), learned from the prototxt
// and the weights, never from the image. 0 where any value fits: h = w = 0 when the data layer's
// transform brings every image to the net's size (crop_size, a resize) or nothing fixes the size.
// In this order: C from the weights of the first convolution, else a net-level input shape; H and
// W from a net-level input shape, else from the weights of the first InnerProduct, which fit the
// few input sizes that give its input the same shape (worked out over the layers' shapes). Of
// several, `img`'s own size when it is one of them; else the size of the data layer's source when
// it can be opened; else the one every convolution and pooling window fits exactly; else the
// largest. The weights come before the source because a net may be trained on other data than its
// prototxt names (`train --train-data`): they are what the net was trained on.
struct NetInput {
    int c = 0, h = 0, w = 0;
    std::string from;  // where that was learned, for messages ("the weights of conv1 and fc7")
};
NetInput trained_net_input(const NetSpec& spec, const PipelineOptions& po, const WeightsFile& w,
                           const TransformParam& tp, const Image& img);

// `img` as the net takes it (`in`): colour -> grey (to_grey) or grey -> three equal channels, and
// resized (bilinear, as the data layer's resize, data/resize.h) to in.h x in.w. Prints on stderr
// what was done ("x.png: 3x32x32 converted to 1x28x28 (grey, resized) as the net expects"). With
// `strict` (--no-resize) a difference is an error instead: "this net takes 1x28x28 images; x.png
// is 3x32x32 (...)". `name` names the image in both.
Image fit_image_to_net(const Image& img, const std::string& name, const NetInput& in, bool strict);

// make_encode_setup for one image (encode and query --image, query --item): `img` is replaced by
// fit_image_to_net's result before the net is built for it.
EncodeSetup make_image_encode_setup(const PipelineOptions& po, const std::string& weights_path, Image& img,
                                    const std::string& name, bool strict);

// The (C, H, W) the data layer of `phase` makes of the items of its source (opened as for
// training, relative to the prototxt's folder), after its transform: the input size of a net whose
// prototxt leaves it to the data (a Data layer without crop_size, as the demo's). `source` receives
// the dataset spec. Throws when there is no data layer, the source cannot be opened or its images
// differ in size.
void data_source_dims(const NetSpec& spec, Phase phase, const PipelineOptions& po, int dims[3], std::string* source);

class IndexFile;
// Before encoding: the code length the net makes (and, when `features`, its feature dimension)
// against an index its codes will be searched in or appended to. Throws std::invalid_argument
// naming the index, both values and the blob.
void check_net_fits_index(const EncodeSetup& es, const IndexFile& db, bool features);

struct EncodedSet {
    CodeSet codes;
    std::vector<float> features;   // (N, D)
    int feature_dim = 0;
    std::vector<int32_t> labels;
    std::vector<std::string> names;
    std::vector<float> activations;  // latent sigmoid outputs (N, bits)
};

// A colour (B, G, R) image as one grey channel, the mean of the three; a grey image unchanged.
Image to_grey(const Image& img);

// The channel count the net's first layer was trained for, read from the weights: the first
// Convolution reading the image input holds (OC, C / group, KH, KW). 0 when it cannot be told (no
// such layer, or the weights lack it). Lets a lone colour image be fed to a grey net (audit).
int trained_input_channels(const std::string& net_path, const std::string& weights_path);

// Runs the net over every item of ds (in order), with a progress line on stderr when `progress`.
EncodedSet encode_dataset(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress);

// Encodes one image (already decoded) as item 0 of a batch.
EncodedSet encode_image(EncodeSetup& es, const Image& img, const std::string& name);

// Share of latent outputs within 0.1 of 0 or 1, and per-bit balance (share of ones), from
// activations (n, bits).
struct Binariness {
    double near_binary = 0;
    std::vector<double> ones;  // per bit
    double mean_balance_gap = 0;  // mean over bits of |ones - 0.5|
};
Binariness binariness(const std::vector<float>& acts, int bits);

}  // namespace dlbhc
