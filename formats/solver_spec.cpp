// formats/solver_spec.cpp -- SolverParameter (.prototxt) -> SolverSpec. See solver_spec.h.
#include "formats/solver_spec.h"

#include <climits>
#include <cmath>
#include <stdexcept>

#include "io/path.h"

namespace dlbhc {

namespace {

using Msg = PtxMessage;

std::string resolve(const std::string& base_dir, const std::string& path) {
    if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
    return base_dir + "/" + path;
}

int int_at_least(const Msg& m, const std::string& name, int def, int lo) {
    const PtxField* f = m.find(name);
    if (!f) return def;
    const int v = f->as_int();
    if (v < lo) f->fail("must be >= " + std::to_string(lo) + ", got " + std::to_string(v));
    return v;
}

double finite_double(const Msg& m, const std::string& name, double def) {
    const PtxField* f = m.find(name);
    if (!f) return def;
    const double v = f->as_double();
    if (!std::isfinite(v)) f->fail("must be a finite number, got " + f->text);
    return v;
}

const PtxField& required(const Msg& m, const std::string& name) {
    const PtxField* f = m.find(name);
    if (!f) ptx_fail(m.loc, "the solver needs '" + name + "'");
    return *f;
}

// type "SGD" / solver_type SGD: anything else is a clear error.
void check_solver_type(const Msg& m) {
    if (const PtxField* f = m.find("type")) {
        const std::string t = f->as_string();
        if (t != "SGD")
            f->fail("is \"" + t + "\"; dlbhc implements SGD with momentum only (Caffe's \"SGD\")");
    }
    if (const PtxField* f = m.find("solver_type")) {
        const std::string t = f->as_enum();
        if (t != "SGD" && t != "0")
            f->fail("is " + t + "; dlbhc implements SGD with momentum only (solver_type: SGD)");
    }
}

}  // namespace

std::vector<std::string> SolverSpec::test_net_paths() const {
    if (!test_net.empty()) return test_net;
    if (!net.empty()) return {net};
    return {};
}

namespace {

// Fields of other solvers or of Caffe features dlbhc lacks, named as such; then any field a
// SolverParameter does not have, and any given twice (but the repeated ones).
void check_solver_fields(const Msg& m) {
    for (const auto& f : m.fields) {
        if (f.name == "net_param" || f.name == "train_net_param" || f.name == "test_net_param")
            f.fail("(a net written inside the solver) is not supported; put the net in its own file and name it with "
                   "net / train_net");
        if (f.name == "train_state" || f.name == "test_state")
            f.fail("(NetState) is not supported; dlbhc trains the TRAIN phase and tests the TEST phase");
        if (f.name == "delta" || f.name == "momentum2" || f.name == "rms_decay")
            f.fail("is a setting of the AdaGrad / Adam / RMSProp solvers; dlbhc implements SGD only");
    }
    m.check_fields({"net", "train_net", "test_net", "weights", "test_iter", "test_interval", "test_initialization",
                    "test_compute_loss", "base_lr", "display", "average_loss", "max_iter", "iter_size", "lr_policy",
                    "gamma", "power", "momentum", "weight_decay", "regularization_type", "stepsize", "stepvalue",
                    "clip_gradients", "snapshot", "snapshot_prefix", "snapshot_diff", "snapshot_format",
                    "snapshot_after_train", "solver_mode", "device_id", "random_seed", "type", "solver_type",
                    "debug_info", "layer_wise_reduce"},
                   "the solver (SolverParameter)");
    for (const auto& f : m.fields)
        if (f.name != "test_net" && f.name != "weights" && f.name != "test_iter" && f.name != "stepvalue") m.find(f.name);
}

// net or train_net, test_net and weights, relative to the solver's folder.
void read_nets(const Msg& m, const std::string& base_dir, SolverSpec& s) {
    const PtxField* net = m.find("net");
    const PtxField* train_net = m.find("train_net");
    if (net && train_net) train_net->fail("cannot be combined with net (give one of them)");
    if (!net && !train_net) ptx_fail(m.loc, "the solver needs 'net' or 'train_net'");
    if (net) s.net = resolve(base_dir, net->as_string());
    if (train_net) s.train_net = resolve(base_dir, train_net->as_string());
    for (const std::string& p : m.get_strings("test_net")) s.test_net.push_back(resolve(base_dir, p));
    for (const std::string& p : m.get_strings("weights")) s.weights.push_back(resolve(base_dir, p));
}

// The update rule: learning rate and its policy, momentum, weight decay, clipping.
void read_update_rule(const Msg& m, SolverParam& p) {
    const PtxField& base_lr = required(m, "base_lr");
    p.base_lr = base_lr.as_double();
    if (!std::isfinite(p.base_lr) || p.base_lr < 0) base_lr.fail("must be a finite number >= 0, got " + base_lr.text);
    const PtxField& policy = required(m, "lr_policy");
    p.lr_policy = policy.as_string();
    p.max_iter = required(m, "max_iter").as_int();
    if (p.max_iter < 1) m.find("max_iter")->fail("must be >= 1, got " + std::to_string(p.max_iter));
    p.gamma = finite_double(m, "gamma", p.gamma);
    p.power = finite_double(m, "power", p.power);
    p.stepsize = int_at_least(m, "stepsize", p.stepsize, 1);
    p.stepvalue = m.get_ints("stepvalue");
    p.momentum = finite_double(m, "momentum", 0.0);
    if (p.momentum < 0) m.find("momentum")->fail("must be >= 0");
    p.weight_decay = finite_double(m, "weight_decay", 0.0);
    if (p.weight_decay < 0) m.find("weight_decay")->fail("must be >= 0");
    p.regularization_type = m.get_string("regularization_type", "L2");
    if (p.regularization_type != "L2" && p.regularization_type != "L1")
        m.find("regularization_type")->fail("is \"" + p.regularization_type + "\" but must be \"L2\" or \"L1\"");
    p.clip_gradients = finite_double(m, "clip_gradients", -1.0);
    try {
        learning_rate(p, 0);  // validates the policy and its settings
        learning_rate(p, p.max_iter);
    } catch (const std::exception& e) {
        policy.fail(std::string("(") + p.lr_policy + "): " + e.what());
    }
}

// Testing: test_interval, test_initialization, one test_iter per test net.
void read_testing(const Msg& m, SolverSpec& s) {
    s.test_interval = int_at_least(m, "test_interval", 0, 0);
    s.test_initialization = m.get_bool("test_initialization", true);
    for (const PtxField* f : m.all("test_iter")) {
        int v = f->as_int();
        if (v < 1) f->fail("must be >= 1, got " + std::to_string(v));
        s.test_iter.push_back(v);
    }
    const size_t n_test = s.test_net_paths().size();
    if (!s.test_iter.empty() && s.test_iter.size() != n_test)
        m.all("test_iter").back()->fail("is given " + std::to_string(s.test_iter.size()) + " times for " +
                                        std::to_string(n_test) + " test net(s) (one per test net)");
    if (s.test_interval > 0 && s.test_iter.empty())
        m.find("test_interval")->fail("is set but test_iter is not (how many batches each test runs)");
    if (m.get_bool("test_compute_loss", false)) m.find("test_compute_loss")->fail("must be false (not supported)");
}

// Running and snapshots.
void read_running(const Msg& m, const std::string& base_dir, SolverSpec& s) {
    s.display = int_at_least(m, "display", 0, 0);
    s.average_loss = int_at_least(m, "average_loss", 1, 1);
    if (const PtxField* f = m.find("iter_size"))
        if (f->as_int() != 1) f->fail("must be 1 (gradient accumulation over several batches is not implemented)");
    s.snapshot = int_at_least(m, "snapshot", 0, 0);
    if (m.find("snapshot_prefix")) s.snapshot_prefix = resolve(base_dir, m.get_string("snapshot_prefix", ""));
    if (m.get_bool("snapshot_diff", false)) m.find("snapshot_diff")->fail("must be false (not supported)");
    s.snapshot_after_train = m.get_bool("snapshot_after_train", true);
    s.random_seed = m.get_int64("random_seed", -1);
}

// Accepted and ignored (GPU and format settings): checked, then a note each.
void read_ignored(const Msg& m, SolverSpec& s) {
    if (const PtxField* f = m.find("solver_mode")) {
        const std::string mode = f->as_enum();
        if (mode != "CPU" && mode != "GPU" && mode != "0" && mode != "1") f->fail("must be CPU or GPU, got " + mode);
        if (mode == "GPU" || mode == "1") s.notes.push_back(f->loc.str() + ": solver_mode GPU ignored: dlbhc runs on the CPU");
    }
    if (const PtxField* f = m.find("device_id")) {
        f->as_int();
        s.notes.push_back(f->loc.str() + ": device_id ignored (no GPU)");
    }
    if (const PtxField* f = m.find("snapshot_format")) {
        const std::string fmt = f->as_enum();
        if (fmt != "BINARYPROTO" && fmt != "HDF5" && fmt != "0" && fmt != "1") f->fail("must be BINARYPROTO or HDF5, got " + fmt);
        s.notes.push_back(f->loc.str() + ": snapshot_format ignored (dlbhc writes its own weights format)");
    }
    if (const PtxField* f = m.find("layer_wise_reduce")) {
        f->as_bool();
        s.notes.push_back(f->loc.str() + ": layer_wise_reduce ignored (multi-GPU only)");
    }
    if (const PtxField* f = m.find("debug_info")) {
        f->as_bool();
        s.notes.push_back(f->loc.str() + ": debug_info ignored");
    }
}

}  // namespace

SolverSpec solver_spec_from_ptx(const PtxMessage& m, const std::string& base_dir) {
    check_solver_fields(m);
    SolverSpec s;
    s.file = m.loc.file;
    check_solver_type(m);
    read_nets(m, base_dir, s);
    read_update_rule(m, s.param);
    read_testing(m, s);
    read_running(m, base_dir, s);
    read_ignored(m, s);
    return s;
}

SolverSpec parse_solver_spec(const std::string& text, const std::string& name, const std::string& base_dir) {
    return solver_spec_from_ptx(parse_prototxt(text, name), base_dir);
}

SolverSpec load_solver_spec(const std::string& path) {
    return solver_spec_from_ptx(load_prototxt(path, {}, "a solver", "weights go with --weights or --resume"),
                                folder_part(path));
}

}  // namespace dlbhc
