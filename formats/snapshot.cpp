// formats/snapshot.cpp -- see snapshot.h.
#include "formats/snapshot.h"

#include <climits>
#include <stdexcept>

#include "formats/weights_file.h"

namespace dlbhc {

namespace {
const char* kKind = "dlbhc.kind";
const char* kSnapshot = "training-snapshot";

// The "iter" entry: decimal digits only (no sign, no spaces), at most INT_MAX.
int parse_iter(const std::string* it, const std::string& path) {
    const std::string where = "snapshot '" + path + "': field 'iter': ";
    if (!it) throw std::runtime_error(where + "expected the iteration (a non-negative integer), found none");
    long long v = 0;
    bool ok = !it->empty() && it->size() <= 10;
    for (char c : *it) {
        ok = ok && c >= '0' && c <= '9';
        if (ok) v = v * 10 + (c - '0');
    }
    if (!ok || v > INT_MAX)
        throw std::runtime_error(where + "expected a non-negative integer of at most " + std::to_string(INT_MAX) +
                                 ", found '" + it->substr(0, 40) + "'");
    return int(v);
}

void save_state(const std::string& path, const TrainState& s, const TrainedNet* net) {
    WeightsFile w;
    w.set_meta(kKind, kSnapshot);
    if (net) set_trained_net(w, *net);
    for (const auto& kv : s.meta) w.set_meta(kv.first, kv.second);
    w.set_meta("iter", std::to_string(s.iter));
    for (const auto& t : s.tensors) w.tensors.push_back(from_tensor(t.first, t.second));
    write_weights(path, w);
}

}  // namespace

void save_train_state(const std::string& path, const TrainState& s) { save_state(path, s, nullptr); }

void save_train_state_with_net(const std::string& path, const TrainState& s, const TrainedNet& net) {
    save_state(path, s, &net);
}

TrainState load_train_state(const std::string& path) { return train_state_from_weights(read_weights(path), path); }

TrainState train_state_from_weights(const WeightsFile& w, const std::string& path) {
    const std::string* kind = w.meta(kKind);
    if (!kind || *kind != kSnapshot)
        throw std::runtime_error("'" + path + "' is a weights file without training state (no " + kKind + "=" +
                                 kSnapshot + " entry): --resume needs a snapshot written by dlbhc train; "
                                 "use --weights to start from it instead");
    TrainState s;
    s.file = path;
    for (const auto& kv : w.metadata) s.meta[kv.first] = kv.second;
    s.iter = parse_iter(w.meta("iter"), path);
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
