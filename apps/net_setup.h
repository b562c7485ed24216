// apps/net_setup.h -- building a net from a prototxt for the data it will see: what its data
// layers say (the dataset each reads, its transform, its batch), the build options sized to that
// data, the files those layers read, and the checks made on the net before the long work.
//
// The data path of a Caffe net is described by its data layers: `source` (here a dataset spec,
// data/source.h, as written or relative to the prototxt's folder), batch_size and transform_param
// (crop, mirror, mean, scale). The TRAIN phase's data layer feeds training, the TEST phase's feeds
// tests and encoding. PipelineOptions (apps/options.h) override the sources, batch, latent size and
// class count, so one prototxt serves any dataset.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "apps/options.h"
#include "data/dataset.h"
#include "data/transform.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"

namespace dlbhc {

// The data layer that describes the input of a net that encodes: the TEST phase's, else TRAIN's.
const LayerSpec* encode_data_layer(const NetSpec& spec);

// The dataset spec a data layer reads (`override_spec` when given, else the layer's source, as
// written or relative to `base_dir`, the prototxt's folder) and in `so` the source options for it
// (the layer's root_folder unless --root); "" when there is neither.
std::string layer_source(const std::string& override_spec, const LayerSpec* layer, const std::string& base_dir,
                         const PipelineOptions& po, SourceOptions& so);
// That dataset, opened (unreadable images skipped are reported on stderr); `name` receives its
// spec. nullptr when there is none.
std::unique_ptr<Dataset> open_for_layer(const std::string& override_spec, const LayerSpec* layer,
                                        const std::string& base_dir, const PipelineOptions& po, std::string& name);

// The transform of a data layer (`layer` may be null: no preprocessing) in `phase`: its
// transform_param (with --mean instead of its mean), an ImageData layer's new_height x new_width
// resize, small images upscaled, colour for a colour mean (colour_for_mean). `channels`: those of
// the images it will get.
TransformParam transform_for(const LayerSpec* layer, Phase phase, const std::string& base_dir, const PipelineOptions& po,
                             int channels);
// A colour mean image needs colour input: grey images (MNIST) are copied to three channels, as
// the authors did for grey images. `channels`: those of the images the transform will get.
void colour_for_mean(TransformParam& tp, int channels);
// Net build options sized to what the transform makes of the dataset's items.
NetBuildOptions build_options(const PipelineOptions& po, const Transformer& tf, const Dataset& ds, int batch);
// The batch: `override_batch` when positive, else the layer's batch_size, else `fallback`.
int data_batch(const LayerSpec* layer, int override_batch, int fallback);

// Refuses a latent layer larger than a hash code can be (hash/code.h), before the data is read
// and the net is built and trained: such a net would train for hours and then fail to encode.
void check_latent_size(const NetSpec& spec, Phase phase, int override_bits);

// The files a run of the net po.net_path reads through its data layers, appended to `inputs`: the
// mean_file of the data layers it preprocesses with (unless --mean, po.mean_file, replaces it)
// and, when `training`, the sources of the TRAIN and TEST data layers that train_data / test_data
// do not override ("none": no test data), with all their files. A net that cannot be read adds
// nothing (building it reports the error).
void add_net_data_inputs(std::vector<NamedPath>& inputs, const PipelineOptions& po, bool training,
                         const std::string& train_data = "", const std::string& test_data = "");

// The (C, H, W) the data layer of `phase` makes of the items of its source (opened as for
// training, relative to the prototxt's folder), after its transform: the input size of a net whose
// prototxt leaves it to the data (a Data layer without crop_size, as the demo's). `source` receives
// the dataset spec. Throws when there is no data layer, the source cannot be opened or its images
// differ in size.
void data_source_dims(const NetSpec& spec, Phase phase, const PipelineOptions& po, int dims[3], std::string* source);

// What loading weights into a net did, on stdout: the count loaded, the parameters left to their
// fillers, those reshaped, and the tensors of the file the net does not use.
void print_load_report(const WeightsLoadReport& rep, const std::string& file);

}  // namespace dlbhc
