// nn/trainer.cpp -- see trainer.h.
#include "nn/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "nn/dropout.h"

namespace dlbhc {

namespace {

std::string hex_state(const Rng& r) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "%016llx%016llx%016llx%016llx", (unsigned long long)r.s[0],
                  (unsigned long long)r.s[1], (unsigned long long)r.s[2], (unsigned long long)r.s[3]);
    return buf;
}

void parse_hex_state(const std::string& h, Rng& r, const std::string& what) {
    if (h.size() != 64) throw std::runtime_error(what + ": expected 64 hex digits, found " + std::to_string(h.size()));
    for (int i = 0; i < 4; ++i) {
        uint64_t v = 0;
        for (int j = 0; j < 16; ++j) {
            char c = h[size_t(i * 16 + j)];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) throw std::runtime_error(what + ": '" + std::string(1, c) + "' is not a hex digit");
            v = v << 4 | uint64_t(d);
        }
        r.s[i] = v;
    }
}

std::string fmt_seconds(double s) {
    char buf[32];
    if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
    else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
    else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, int(s) % 3600 / 60);
    return buf;
}

// Adds this iteration's loss outputs (Net::loss_outputs) to the display window's sums.
void add_outputs(std::vector<Net::LossOutput>& sums, const std::vector<Net::LossOutput>& now) {
    if (sums.size() != now.size()) sums.assign(now.begin(), now.end());
    else
        for (size_t i = 0; i < now.size(); ++i) sums[i].value += now[i].value;
}

// As Caffe, one line per weighted top under the progress line: its value and what it adds to the
// total (value x loss weight), averaged over the window of n iterations, so that the total of the
// progress line is the sum of the last column.
std::vector<std::string> output_lines(const std::vector<Net::LossOutput>& sums, int n) {
    std::vector<std::string> lines;
    for (const Net::LossOutput& o : sums) {
        const double v = o.value / std::max(1, n);
        char buf[256];
        std::snprintf(buf, sizeof buf, "    %s = %.4f (* %g = %.4f loss)", o.top.c_str(), v, (double)o.weight, v * o.weight);
        lines.push_back(buf);
    }
    return lines;
}

}  // namespace

std::string snapshot_path(const std::string& prefix, int iter) {
    return prefix + "_iter_" + std::to_string(iter) + ".weights";
}

// The snapshots taken during the run (the last one is taken after the loop).
static bool periodic_snapshot(const TrainOptions& opt, int iter, int max_iter) {
    return opt.snapshot > 0 && iter % opt.snapshot == 0 && iter < max_iter;
}

bool may_write_snapshot(const TrainOptions& opt, int start, int max_iter, int iter) {
    if (opt.snapshot_prefix.empty() || iter <= start || iter > max_iter) return false;
    if (periodic_snapshot(opt, iter, max_iter)) return true;
    return opt.snapshot_after_train && (iter == max_iter || opt.max_seconds > 0);
}

Trainer::Trainer(Net& net, SGDSolver& solver, BatchSource& train, BatchSource* test, TrainOptions opt,
                 std::function<void(const std::string&)> log)
    : net_(net), solver_(solver), train_(train), test_(test), opt_(std::move(opt)), log_(std::move(log)) {
    if (!net_.has_blob("data") || !net_.has_blob("label"))
        throw std::invalid_argument("trainer: the net needs inputs named 'data' and 'label'");
    for (size_t i = 0; i < net_.layers().size(); ++i)
        if (std::string(net_.layers()[i]->type()) == "SoftmaxWithLoss") score_blob_ = net_.bottoms(i).at(0)->name;
    if (score_blob_.empty()) throw std::invalid_argument("trainer: the net has no SoftmaxWithLoss layer");
}

void Trainer::log(const std::string& line) const {
    if (log_) log_(line);
}

double Trainer::batch_accuracy() const {
    // Caffe's Accuracy rule: a tie with the true class counts as wrong (nn/accuracy.h).
    Net& net = net_;
    const Blob* s = net.blob(score_blob_);
    const Blob* l = net.blob("label");
    const int n = s->shape().n, k = int(s->count() / size_t(n));
    int hit = 0;
    for (int i = 0; i < n; ++i) {
        const float* row = s->data.data() + size_t(i) * size_t(k);
        int y = int(l->data.data()[i]);
        if (y < 0 || y >= k) continue;
        bool best = true;
        for (int c = 0; c < k && best; ++c)
            if (c != y && row[c] >= row[y]) best = false;
        hit += best;
    }
    return double(hit) / n;
}

TestResult Trainer::test() {
    TestResult r;
    if (!test_ || opt_.test_iter <= 0) return r;
    net_.set_phase(Phase::Test);
    double loss = 0, acc = 0;
    for (int i = 0; i < opt_.test_iter; ++i) {
        test_->next(net_.blob("data")->data, net_.blob("label")->data);
        loss += net_.forward();
        acc += batch_accuracy();
    }
    net_.set_phase(Phase::Train);
    r.batches = opt_.test_iter;
    r.loss = loss / opt_.test_iter;
    r.accuracy = acc / opt_.test_iter;
    return r;
}

TrainState Trainer::capture() const {
    TrainState s;
    s.iter = solver_.iter();
    s.meta["iter"] = std::to_string(solver_.iter());
    auto params = net_.params();
    auto& hist = solver_.history();
    for (size_t i = 0; i < params.size(); ++i) {
        s.tensors.emplace_back(params[i]->name, params[i]->value);
        if (i < hist.size() && hist[i].count() == params[i]->value.count())
            s.tensors.emplace_back(params[i]->name + "@momentum", hist[i]);
    }
    for (const auto& layer : net_.layers())
        if (auto* d = dynamic_cast<DropoutLayer*>(layer.get())) s.meta["rng." + d->name()] = hex_state(d->rng());
    s.meta["source.train"] = train_.state();
    if (test_) s.meta["source.test"] = test_->state();
    return s;
}

namespace {

// "snapshot '<file>': field '<field>': ", the start of every restore error.
std::string field_error(const TrainState& s, const std::string& field) {
    return "snapshot" + (s.file.empty() ? std::string() : " '" + s.file + "'") + ": field '" + field + "': ";
}

// The index of the first non-finite value of t, or t.count() when all are finite.
size_t first_non_finite(const Tensor& t) {
    for (size_t i = 0; i < t.count(); ++i)
        if (!std::isfinite(t.data()[i])) return i;
    return t.count();
}

// The snapshot tensor `name`, checked to have `shape` and finite values.
const Tensor& checked_tensor(const TrainState& s, const std::map<std::string, const Tensor*>& byname,
                             const std::string& name, const Shape& shape) {
    auto it = byname.find(name);
    if (it == byname.end()) throw std::runtime_error(field_error(s, name) + "expected a tensor of shape " + shape.str() + ", found none");
    const Tensor& t = *it->second;
    if (t.shape() != shape)
        throw std::runtime_error(field_error(s, name) + "expected shape " + shape.str() + ", found " + t.shape().str());
    const size_t bad = first_non_finite(t);
    if (bad < t.count())
        throw std::runtime_error(field_error(s, name) + "expected finite values, found " + std::to_string(t.data()[bad]) +
                                 " at index " + std::to_string(bad));
    return t;
}

// A generator state from its 64 hex digits; all zeros is refused (xoshiro never leaves it).
Rng checked_rng(const TrainState& s, const std::string& key, const std::string& hex) {
    Rng r;
    parse_hex_state(hex, r, field_error(s, key) + "random state");
    if ((r.s[0] | r.s[1] | r.s[2] | r.s[3]) == 0)
        throw std::runtime_error(field_error(s, key) + "expected a nonzero random state, found all zeros");
    return r;
}

}  // namespace

void Trainer::restore(const TrainState& s) {
    // Everything is checked first; only then is anything changed (the sources roll back themselves).
    const int max_iter = solver_.param().max_iter;
    if (s.iter < 0 || s.iter > max_iter)
        throw std::runtime_error(field_error(s, "iter") + "expected an iteration in [0, " + std::to_string(max_iter) +
                                 "] (the solver's max_iter), found " + std::to_string(s.iter));

    // Tensors: exactly the parameters and their momentum, nothing else, none twice.
    std::map<std::string, const Tensor*> byname;
    for (const auto& t : s.tensors)
        if (!byname.emplace(t.first, &t.second).second)
            throw std::runtime_error(field_error(s, t.first) + "expected one tensor of this name, found several");
    auto params = net_.params();
    auto& hist = solver_.history();
    std::vector<const Tensor*> values, momenta;
    for (size_t i = 0; i < params.size(); ++i) {
        const Shape shape = params[i]->value.shape();
        values.push_back(&checked_tensor(s, byname, params[i]->name, shape));
        if (i < hist.size()) momenta.push_back(&checked_tensor(s, byname, params[i]->name + "@momentum", shape));
    }
    std::set<std::string> expected;
    for (size_t i = 0; i < params.size(); ++i) {
        expected.insert(params[i]->name);
        if (i < hist.size()) expected.insert(params[i]->name + "@momentum");
    }
    for (const auto& kv : byname)
        if (!expected.count(kv.first))
            throw std::runtime_error(field_error(s, kv.first) + "expected only the net's parameters and their momentum, "
                                     "found a tensor this net has no parameter for (a snapshot of another net?)");

    // Random states: exactly one per Dropout layer.
    std::vector<std::pair<DropoutLayer*, Rng>> rngs;
    std::set<std::string> dropout_names;
    for (const auto& layer : net_.layers())
        if (auto* d = dynamic_cast<DropoutLayer*>(layer.get())) {
            const std::string key = "rng." + d->name();
            dropout_names.insert(key);
            auto it = s.meta.find(key);
            if (it == s.meta.end())
                throw std::runtime_error(field_error(s, key) + "expected the random state of Dropout layer '" + d->name() +
                                         "', found none");
            rngs.emplace_back(d, checked_rng(s, key, it->second));
        }
    for (const auto& kv : s.meta) {
        if (kv.first.compare(0, 4, "rng.") == 0 && !dropout_names.count(kv.first))
            throw std::runtime_error(field_error(s, kv.first) + "expected random states only for the net's Dropout layers, "
                                     "found one for '" + kv.first.substr(4) + "', which is not a Dropout layer of this net");
        if (kv.first.compare(0, 7, "source.") == 0 && kv.first != "source.train" && kv.first != "source.test")
            throw std::runtime_error(field_error(s, kv.first) + "expected data positions 'source.train' and 'source.test' "
                                     "only, found this one");
    }

    restore_sources(s);  // the last check; from here on nothing can fail
    for (size_t i = 0; i < params.size(); ++i) {
        std::copy(values[i]->data(), values[i]->data() + values[i]->count(), params[i]->value.data());
        if (i < momenta.size()) {
            if (hist[i].shape() != params[i]->value.shape()) hist[i].reshape(params[i]->value.shape());
            std::copy(momenta[i]->data(), momenta[i]->data() + momenta[i]->count(), hist[i].data());
        }
    }
    for (auto& dr : rngs) dr.first->rng() = dr.second;
    solver_.set_iter(s.iter);
}

// Restores the data positions, or throws and leaves both sources as they were.
void Trainer::restore_sources(const TrainState& s) {
    const uint64_t batch = uint64_t(net_.blob("data")->shape().n);
    auto src = s.meta.find("source.train");
    if (src == s.meta.end())
        throw std::runtime_error(field_error(s, "source.train") + "expected the training-data position, found none");
    const std::string train_before = train_.state();
    try {
        train_.restore(src->second);
    } catch (const std::exception& e) {
        throw std::runtime_error(field_error(s, "source.train") + e.what());
    }
    // Each iteration takes one batch: the position must be exactly iter x batch images in.
    uint64_t taken = 0;
    if (train_.items_taken(&taken) && taken != uint64_t(s.iter) * batch) {
        train_.restore(train_before);
        throw std::runtime_error(field_error(s, "source.train") + "expected the data position after iteration " +
                                 std::to_string(s.iter) + " (" + std::to_string(s.iter) + " x " + std::to_string(batch) +
                                 " = " + std::to_string(uint64_t(s.iter) * batch) + " images taken), found " +
                                 std::to_string(taken) + " images taken");
    }
    auto tsrc = s.meta.find("source.test");
    if (!test_ || tsrc == s.meta.end()) return;
    const std::string test_before = test_->state();
    try {
        test_->restore(tsrc->second);
    } catch (const std::exception& e) {
        train_.restore(train_before);
        throw std::runtime_error(field_error(s, "source.test") + e.what());
    }
    // Tests take whole batches.
    if (test_->items_taken(&taken) && taken % batch != 0) {
        train_.restore(train_before);
        test_->restore(test_before);
        throw std::runtime_error(field_error(s, "source.test") + "expected a whole number of batches of " +
                                 std::to_string(batch) + " images taken, found " + std::to_string(taken) + " images");
    }
}

std::string Trainer::snapshot() const {
    if (opt_.snapshot_prefix.empty()) return "";
    std::string path = snapshot_path(opt_.snapshot_prefix, solver_.iter());
    if (!opt_.save_state) throw std::logic_error("Trainer: snapshot_prefix is set but save_state is not");
    opt_.save_state(path, capture());
    return path;
}

TrainResult Trainer::run() {
    using clock = std::chrono::steady_clock;
    TrainResult res;
    const auto t0 = clock::now();
    const int max_iter = solver_.param().max_iter;
    const int start_iter = solver_.iter();
    const int batch = net_.blob("data")->shape().n;
    auto seconds = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
    auto run_test = [&] {
        TestResult t = test();
        res.tests.push_back(t);
        char buf[160];
        std::snprintf(buf, sizeof buf, "test  iter %d  loss %.4f  accuracy %.4f  (%d batches)", solver_.iter(), t.loss,
                      t.accuracy, t.batches);
        log(buf);
    };
    if (test_ && opt_.test_interval > 0 && opt_.test_initialization && start_iter == 0) run_test();

    double win_loss = 0, win_acc = 0;
    std::vector<Net::LossOutput> win_outputs;
    int win_n = 0;
    double win_t0 = seconds();
    while (solver_.iter() < max_iter) {
        train_.next(net_.blob("data")->data, net_.blob("label")->data);
        const double lr = learning_rate(solver_.param(), solver_.iter());
        const double loss = solver_.step();
        res.last_loss = loss;
        // The loss alone can hide a diverged net (a capped log, a ReLU turning NaN into 0), so the
        // classifier's outputs are checked too: a few values per image.
        const Blob* scores = net_.blob(score_blob_);
        size_t bad = 0;
        for (size_t i = 0; i < scores->count(); ++i) bad += !std::isfinite(scores->data.data()[i]);
        if (!std::isfinite(loss) || bad) {
            res.stopped_non_finite = true;
            char buf[400];
            std::snprintf(buf, sizeof buf,
                          "error: %s at iteration %d (learning rate %g; %zu non-finite values in '%s'); stopping. "
                          "Weights from this step are not saved; the last good snapshot is kept%s%s",
                          std::isnan(loss) ? "the loss is NaN" : !std::isfinite(loss) ? "the loss is infinite" : "NaN/Inf scores",
                          solver_.iter(), lr, bad, score_blob_.c_str(), res.last_snapshot.empty() ? "" : ": ",
                          res.last_snapshot.c_str());
            log(buf);
            break;
        }
        win_loss += loss;
        add_outputs(win_outputs, net_.loss_outputs());
        win_acc += batch_accuracy();
        ++win_n;
        const int it = solver_.iter();
        if ((opt_.display > 0 && it % opt_.display == 0) || it == max_iter) {
            const double now = seconds(), dt = now - win_t0;
            const double ips = dt > 0 ? win_n * batch / dt : 0;
            const double per_iter = (now) / std::max(1, it - start_iter);
            char buf[256];
            std::snprintf(buf, sizeof buf, "iter %d/%d  loss %.4f  accuracy %.4f  lr %.3g  %.0f img/s  elapsed %s  left %s",
                          it, max_iter, win_loss / win_n, win_acc / win_n, lr, ips, fmt_seconds(now).c_str(),
                          fmt_seconds(per_iter * (max_iter - it)).c_str());
            log(buf);
            for (const std::string& line : output_lines(win_outputs, win_n)) log(line);
            win_outputs.clear();
            win_loss = win_acc = 0;
            win_n = 0;
            win_t0 = now;
        }
        if (test_ && opt_.test_interval > 0 && it % opt_.test_interval == 0) run_test();
        if (periodic_snapshot(opt_, it, max_iter)) {
            res.last_snapshot = snapshot();
            if (!res.last_snapshot.empty()) log("snapshot " + res.last_snapshot);
        }
        if (opt_.max_seconds > 0 && seconds() > opt_.max_seconds && it < max_iter) {
            log("time limit of " + fmt_seconds(opt_.max_seconds) + " reached at iteration " + std::to_string(it));
            break;
        }
    }
    if (!res.stopped_non_finite && opt_.snapshot_after_train && solver_.iter() > start_iter) {
        res.last_snapshot = snapshot();
        if (!res.last_snapshot.empty()) log("snapshot " + res.last_snapshot);
    }
    res.iter = solver_.iter();
    res.seconds = seconds();
    return res;
}

}  // namespace dlbhc
