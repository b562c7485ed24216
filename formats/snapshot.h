// formats/snapshot.h -- training snapshots on disk.
//
// A snapshot is a dlbhc weights file (docs/formats.md): the parameter tensors under their own
// names ("conv1.weight", ...), so a snapshot loads anywhere a weights file does, plus the momentum
// of each parameter ("conv1.weight@momentum") and a metadata section with the iteration, the
// random state of each Dropout layer and the position of the batch sources. Written atomically
// (temporary file, fsync, rename): a crash leaves the previous snapshot intact.
#pragma once
#include <string>

#include "nn/trainer.h"
#include "formats/weights_file.h"

namespace dlbhc {

void save_train_state(const std::string& path, const TrainState& s);
// The same, recording in the metadata the net the snapshot was trained with (set_trained_net).
void save_train_state_with_net(const std::string& path, const TrainState& s, const TrainedNet& net);
// Throws std::runtime_error naming the file when it is not a snapshot (e.g. a plain weights
// file without training state) or is damaged.
TrainState load_train_state(const std::string& path);
// The same for a weights file already read; `path` names it in error messages.
TrainState train_state_from_weights(const WeightsFile& w, const std::string& path);

}  // namespace dlbhc
