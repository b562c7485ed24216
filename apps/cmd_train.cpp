// apps/cmd_train.cpp -- `dlbhc train`: fine-tune a DLBHC net from a Caffe solver.prototxt.
#include <dirent.h>

#include <climits>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/net_setup.h"
#include "apps/options.h"
#include "apps/provenance.h"
#include "apps/training.h"
#include "formats/snapshot.h"
#include "formats/solver_spec.h"
#include "formats/weights_file.h"
#include "io/file_io.h"
#include "io/path.h"
#include "nn/trainer.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc train --solver SOLVER.prototxt [options]\n"
    "Trains the solver's net (Caffe prototxt, TRAIN phase) with SGD as Caffe does, testing on the\n"
    "TEST phase's data every test_interval iterations and writing snapshots every `snapshot`\n"
    "iterations and at the end (<snapshot_prefix>_iter_<N>.weights, atomically).\n"
    "  --solver FILE        the solver (base_lr, lr_policy, momentum, weight_decay, max_iter, ...)\n"
    "  --net FILE           train this net instead of the solver's `net`\n"
    "  --weights FILE       initial weights (a dlbhc weights file, e.g. `dlbhc convert`ed CaffeNet);\n"
    "                       layers it lacks start from their fillers (the latent and classifier layers)\n"
    "  --resume SNAPSHOT    continue from a snapshot: weights, momentum, iteration, random states and\n"
    "                       data position; the run ends bit-identical to an uninterrupted one. A\n"
    "                       snapshot that records another net (net.hash) is refused before any work\n"
    "  --train-data SPEC    training data instead of the TRAIN data layer's source; SPEC is DIR/train\n"
    "                       (MNIST idx files), DIR/train (CIFAR-10 batches), a list file or an image folder\n"
    "  --test-data SPEC     test data instead of the TEST data layer's source ('none': no tests)\n"
    "  --bits H             latent layer size (the InnerProduct before the Sigmoid)\n"
    "  --classes K          classifier outputs\n"
    "  --batch N            batch size instead of the data layer's batch_size\n"
    "  --max-iter N         instead of the solver's max_iter\n"
    "  --snapshot-prefix P  instead of the solver's snapshot_prefix\n"
    "  --display N          progress line every N iterations instead of the solver's display (the\n"
    "                       weighted sum of the losses, then each loss by its top name and weight)\n"
    "  --base-lr R          instead of the solver's base_lr\n"
    "  --out FILE           also write the final weights (parameters only) here; it may not be an\n"
    "                       input (a file of the data, a mean file) nor a snapshot the run writes\n"
    "  --seed S             instead of the solver's random_seed (default 1)\n"
    "  --time-limit SEC     stop early (with a snapshot) after SEC seconds of training\n"
    "  --mean FILE          mean image instead of the data layer's mean_file (e.g. the converted\n"
    "                       weights/imagenet_mean.weights, or imagenet_mean.binaryproto)\n"
    "  --root DIR           list files: folder the image paths are relative to\n"
    "  --strict             an unreadable image is an error (default: skipped, reported and counted)\n"
    "  --no-prefetch        prepare batches on the training thread (same results, slower)\n"
    "Snapshots and --out record the net they were trained with (metadata net.name, net.hash: the\n"
    "hash of the layers that make the codes, as an index records it, and net.file: --net or the\n"
    "solver's net as given); `dlbhc info W.weights` prints them.\n"
    "A NaN or infinite loss stops training with an error; the last good snapshot is kept.\n";

static size_t count_params(Net& net) {
    size_t n = 0;
    for (Param* p : net.params()) n += p->value.count();
    return n;
}

// A snapshot records the net it was trained with (net.hash, formats/weights_file.h): resumed
// with another net, its parameters would load into layers they were not trained for, or fail on
// a shape only after the data is read. Snapshots that record no net (older ones) pass.
static void refuse_resume_with_another_net(const TrainState& snap, const PipelineOptions& po) {
    const auto hash = snap.meta.find(kMetaNetHash);
    if (hash == snap.meta.end() || hash->second.empty()) return;
    const NetSpec spec = load_net_spec(po.net_path);
    const TrainedNet now = trained_net_record(spec, spec.name, po.latent_bits, po.net_path);
    if (now.hash == hash->second) return;
    auto meta = [&](const char* key) {
        const auto it = snap.meta.find(key);
        return it == snap.meta.end() ? std::string("?") : it->second;
    };
    throw std::invalid_argument("--resume '" + snap.file + "' was trained with net '" + meta(kMetaNetName) + "' (" +
                                meta(kMetaNetFile) + ", net.hash " + hash->second + "), but this run trains net '" +
                                spec.name + "' (" + po.net_path + ", net.hash " + now.hash +
                                "): resume with the net it was trained with (--net, --bits), or start from its "
                                "weights with --weights");
}

// N when `name` is exactly "<head><N>.weights" (head: "<prefix base>_iter_"), else -1.
static int snapshot_iter_of(const std::string& name, const std::string& head) {
    if (name.compare(0, head.size(), head) != 0) return -1;
    const std::string n = name.substr(head.size(), name.find('.', head.size()) - head.size());
    if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos) return -1;
    const int iter = std::stoi(n);
    return name == head + std::to_string(iter) + ".weights" ? iter : -1;
}

// This run writes snapshots "<prefix>_iter_<N>.weights" (nn/trainer.h may_write_snapshot).
// Throws when one of those files exists already and is an input: say --weights or --resume names
// a later snapshot of the same prefix. The earlier snapshot a run resumes from is never rewritten.
static void refuse_snapshots_over_inputs(const TrainOptions& to, int start, int max_iter,
                                         const std::vector<NamedPath>& inputs) {
    const std::string& prefix = to.snapshot_prefix;
    if (prefix.empty()) return;
    const std::string folder = parent_folder(prefix), head = base_name(prefix) + "_iter_";
    DIR* d = ::opendir(folder.c_str());
    if (!d) return;  // no folder yet: no snapshot exists
    std::vector<NamedPath> existing;
    while (const struct dirent* e = ::readdir(d)) {
        const int iter = snapshot_iter_of(e->d_name, head);
        if (iter >= 0 && may_write_snapshot(to, start, max_iter, iter)) existing.push_back({"the snapshot", snapshot_path(prefix, iter)});
    }
    ::closedir(d);
    refuse_overwriting_inputs(existing, inputs);
}

// --out must not be a snapshot file the run writes: the later of the two writes would replace
// the other (and a --resume from that snapshot would then fail). Tested by name, so that the
// run's snapshots (every `snapshot` iterations, the last, one at a time limit) need no listing.
static void refuse_out_over_snapshots(const std::string& out, const TrainOptions& to, int start, int max_iter) {
    if (out.empty() || to.snapshot_prefix.empty()) return;
    const std::string o = canonical_output(out);
    const std::string folder = canonical_output(parent_folder(to.snapshot_prefix));
    const std::string head = base_name(to.snapshot_prefix) + "_iter_";
    const int iter = parent_folder(o) == folder ? snapshot_iter_of(base_name(o), head) : -1;
    if (iter < 0 || !may_write_snapshot(to, start, max_iter, iter)) return;
    throw std::invalid_argument("--out " + out + " is the snapshot this run writes at iteration " + std::to_string(iter) +
                                " (" + snapshot_path(to.snapshot_prefix, iter) +
                                "): one write would replace the other; choose another --out");
}

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc train --solver weights/small_dlbhc_solver.prototxt --out demo/small_dlbhc.weights\n"
    "  dlbhc train --solver weights/small_dlbhc_solver.prototxt --resume "
        "demo/small_dlbhc_iter_5000.weights --out demo/small_dlbhc.weights\n";

namespace {

// Everything `train` checks and reads before the long work (reading the data, building the net
// and training it): nothing found wrong here may surface hours later.
struct TrainPlan {
    PipelineOptions po;
    SolverSpec solver;
    TrainOptions to;
    std::vector<std::pair<std::string, WeightsFile>> initial;  // the weights to start from, read
    std::unique_ptr<TrainState> resume;                        // --resume, read
    std::string train_data, test_data;
};

// The options of the data and the net: --bits, --classes, --batch, --no-prefetch, --mean (checked
// now), --root, --strict, --max-pixels.
PipelineOptions train_pipeline_options(const Args& a) {
    PipelineOptions po;
    po.latent_bits = bits_option(a);
    po.num_classes = classes_option(a);
    po.batch = a.get_int_in("batch", 0, 1, INT_MAX);  // 0: the data layer's batch_size
    po.prefetch = !a.has("no-prefetch");
    po.mean_file = a.get("mean", "");
    po.root = a.get("root", "");
    po.strict = a.has("strict");
    po.max_pixels = max_pixels_option(a);
    if (!po.mean_file.empty()) check_input_file(po.mean_file, "--mean");
    return po;
}

// The solver file with the command line's overrides: --max-iter, --snapshot-prefix, --display,
// --base-lr. Its notes are printed.
SolverSpec solver_with_overrides(const Args& a) {
    SolverSpec solver = load_solver_spec(a.get("solver", ""));
    for (const auto& n : solver.notes) std::printf("note: %s\n", n.c_str());
    solver.param.max_iter = a.get_int_in("max-iter", solver.param.max_iter, 1, INT_MAX);
    if (solver.param.max_iter < 1) throw std::invalid_argument(solver.file + ": max_iter must be >= 1");
    if (a.has("snapshot-prefix")) solver.snapshot_prefix = a.get("snapshot-prefix", "");
    solver.display = a.get_int_in("display", solver.display, 1, INT_MAX);
    if (a.has("base-lr")) {
        solver.param.base_lr = a.get_double("base-lr", 0);
        if (!(solver.param.base_lr > 0)) throw std::invalid_argument("--base-lr must be positive");
    }
    return solver;
}

TrainOptions trainer_options(const SolverSpec& solver, double max_seconds) {
    TrainOptions to;
    to.display = solver.display > 0 ? solver.display : 100;
    to.snapshot = solver.snapshot;
    to.snapshot_prefix = solver.snapshot_prefix;
    to.snapshot_after_train = solver.snapshot_after_train;
    to.test_initialization = solver.test_initialization;
    to.max_seconds = max_seconds;
    return to;
}

// The outputs (the snapshots, --out) checked, the weights to start from and the snapshot to
// resume read, and the outputs checked against every input (the files the data resolves to, the
// options' or the data layers' sources, and the mean files included) and one another.
void check_files(const Args& a, TrainPlan& p) {
    const SolverSpec& solver = p.solver;
    // Where the snapshots go, named by the last one (the others differ only in the number).
    if (!solver.snapshot_prefix.empty())
        check_output_path(snapshot_path(solver.snapshot_prefix, solver.param.max_iter),
                          a.has("snapshot-prefix") ? "--snapshot-prefix" : solver.file + ": snapshot_prefix");
    if (a.has("out")) check_output_path(a.get("out", ""), "--out");
    if (a.has("weights")) {
        p.initial.emplace_back(a.get("weights", ""), read_weights(a.get("weights", "")));
    } else {
        for (const auto& path : solver.weights) p.initial.emplace_back(path, read_weights(path));
    }
    if (a.has("resume")) {
        p.resume = std::make_unique<TrainState>(load_train_state(a.get("resume", "")));
        refuse_resume_with_another_net(*p.resume, p.po);
    }
    std::vector<NamedPath> inputs = option_paths(a, {"solver", "weights", "resume", "train-data", "test-data", "mean"});
    inputs.push_back({"--net", p.po.net_path});
    for (const auto& w : solver.weights) inputs.push_back({"the solver's weights", w});
    add_dataset_inputs(inputs, "--train-data", p.train_data, source_options(p.po));
    if (p.test_data != "none") add_dataset_inputs(inputs, "--test-data", p.test_data, source_options(p.po));
    add_net_data_inputs(inputs, p.po, true, p.train_data, p.test_data);
    refuse_overwriting_inputs(option_paths(a, {"out"}), inputs);
    const int start = p.resume ? p.resume->iter : 0;
    refuse_out_over_snapshots(a.get("out", ""), p.to, start, solver.param.max_iter);
    refuse_snapshots_over_inputs(p.to, start, solver.param.max_iter, inputs);
}

TrainPlan plan_training(const Args& a) {
    TrainPlan p;
    p.po = train_pipeline_options(a);
    p.solver = solver_with_overrides(a);
    const double time_limit = a.get_double("time-limit", 0);
    if (a.has("time-limit") && !(time_limit > 0)) throw std::invalid_argument("--time-limit must be positive (seconds)");
    p.po.seed = a.has("seed") ? uint64_t(a.get_int_in("seed", 1, 0, INT_MAX))
                              : (p.solver.random_seed >= 0 ? uint64_t(p.solver.random_seed) : 1);
    p.po.net_path = a.has("net") ? a.get("net", "") : p.solver.train_net_path();
    if (p.po.net_path.empty()) throw std::invalid_argument(p.solver.file + ": the solver names no net (and no --net given)");
    p.to = trainer_options(p.solver, a.has("time-limit") ? time_limit : 0);
    p.train_data = a.get("train-data", ""), p.test_data = a.get("test-data", "");
    check_files(a, p);
    return p;
}

// The long work: the data read, the net built and initialised (fillers, then the weights to start
// from), trained (resumed from --resume), and --out written. 3 when training stopped on a
// non-finite loss.
int run_training(const Args& a, TrainPlan& p) {
    const SolverSpec& solver = p.solver;
    TrainingSetup setup =
        make_training_setup(p.po, p.train_data, p.test_data, solver.test_iter.empty() ? 0 : solver.test_iter[0]);
    Net& net = *setup.net;
    const TrainedNet trained = trained_net_record(setup.spec, net.name(), p.po.latent_bits, p.po.net_path);
    // Snapshots record the net they were trained with (formats/weights_file.h, TrainedNet).
    p.to.save_state = [trained](const std::string& path, const TrainState& state) {
        save_train_state_with_net(path, state, trained);
    };
    std::printf("net %s: %zu layers, %zu parameters; training data %s (%zu images), test data %s\n",
                p.po.net_path.c_str(), net.layers().size(), count_params(net), setup.train_name.c_str(),
                setup.train_size, setup.test_name.empty() ? "none" : setup.test_name.c_str());

    Rng init(p.po.seed);
    net.init_params(init);
    for (const auto& pw : p.initial) print_load_report(load_weights(net, pw.second), pw.first);
    p.initial.clear();  // the net holds the values now

    SGDSolver sgd(net, solver.param);
    p.to.test_interval = setup.test ? solver.test_interval : 0;
    p.to.test_iter = setup.test_batches;
    // The snapshots' folder is made by the first snapshot's writer (and removed again if that
    // write fails); check_output_path has already shown, before any work, that it can be made.
    Trainer trainer(net, sgd, *setup.train, setup.test.get(), p.to, [](const std::string& line) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
    });
    if (p.resume) {
        trainer.restore(*p.resume);
        p.resume.reset();
        std::printf("resumed from %s at iteration %d\n", a.get("resume", "").c_str(), sgd.iter());
    }
    TrainResult r = trainer.run();
    if (r.stopped_non_finite) return 3;
    if (a.has("out")) {
        WeightsFile w = weights_from_net(net);
        set_trained_net(w, trained);
        write_weights(a.get("out", ""), w);
        std::printf("weights written to %s\n", a.get("out", "").c_str());
    }
    std::printf("done: %d iterations in %.1f s\n", r.iter, r.seconds);
    return 0;
}

}  // namespace

int cmd_train(const std::vector<std::string>& argv) {
    Args a(argv,
           {"solver", "net", "weights", "resume", "train-data", "test-data", "bits", "classes", "batch", "max-iter",
            "snapshot-prefix", "out", "seed", "time-limit", "mean", "display", "base-lr", "root", "max-pixels"},
           {"no-prefetch", "strict", "help"});
    if (print_help(a, {kHelp, kMaxPixelsHelp, kExamples})) return 0;
    a.expect_no_positional();
    a.require({"solver"});
    TrainPlan plan = plan_training(a);
    return run_training(a, plan);
}

}  // namespace dlbhc
