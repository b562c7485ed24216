// formats/snapshot.cpp -- see snapshot.h.
#include "formats/snapshot.h"

#include <stdexcept>

#include "formats/weights_file.h"

namespace dlbhc {

namespace {
const char* kKind = "dlbhc.kind";
const char* kSnapshot = "training-snapshot";
}  // namespace

void save_train_state(const std::string& path, const TrainState& s) {
    WeightsFile w;
    w.set_meta(kKind, kSnapshot);
    for (const auto& kv : s.meta) w.set_meta(kv.first, kv.second);
    w.set_meta("iter", std::to_string(s.iter));
    for (const auto& t : s.tensors) w.tensors.push_back(from_tensor(t.first, t.second));
    write_weights(path, w);
}

TrainState load_train_state(const std::string& path) { return train_state_from_weights(read_weights(path), path); }

TrainState train_state_from_weights(const WeightsFile& w, const std::string& path) {
    const std::string* kind = w.meta(kKind);
    if (!kind || *kind != kSnapshot)
        throw std::runtime_error("'" + path + "' is a weights file without training state (no " + kKind + "=" +
                                 kSnapshot + " entry): --resume needs a snapshot written by dlbhc train; "
                                 "use --weights to start from it instead");
    TrainState s;
    for (const auto& kv : w.metadata) s.meta[kv.first] = kv.second;
    const std::string* it = w.meta("iter");
    try {
        size_t used = 0;
        s.iter = it ? std::stoi(*it, &used) : -1;
        if (!it || used != it->size() || s.iter < 0) throw std::invalid_argument("bad");
    } catch (const std::exception&) {
        throw std::runtime_error("snapshot '" + path + "': metadata 'iter' is missing or not a non-negative integer");
    }
    // Weights and momentum alike: resuming from a non-finite value would train on garbage.
    for (const auto& t : w.tensors) {
        check_finite(t, "snapshot '" + path + "'");
        try {
            s.tensors.emplace_back(t.name, to_tensor(t));
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error("snapshot '" + path + "': " + e.what());
        }
    }
    return s;
}

}  // namespace dlbhc
