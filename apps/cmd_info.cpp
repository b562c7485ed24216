// apps/cmd_info.cpp -- `dlbhc info FILE`: what an index or a weights file holds and where it came
// from: an index's header, provenance and the health of its codes; a weights file's tensors, the
// net it was trained with and, for a snapshot, its iteration.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/report.h"
#include "formats/weights_file.h"
#include "io/file_io.h"
#include "search/index_file.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc info FILE [--json]\n"
    "Describes a dlbhc index or weights file (training snapshots included), told apart by its magic.\n"
    "An index: its header (format version, items, code length, features, size), its provenance\n"
    "(docs/formats.md: the dlbhc version; the net's name and the hash of the layers that make the\n"
    "codes; the hash of the weights; the preprocessing; the latent and feature blobs; the data\n"
    "sources, each with its item count) and the health of its codes, computed from the codes: the\n"
    "number of distinct codes, the largest group of identical codes, each bit's share of ones\n"
    "(min, mean, max; a bit outside [0.1, 0.9] is nearly constant and tells items apart little)\n"
    "and the mean over bits of |share - 0.5| (0 is perfectly balanced).\n"
    "A weights file: its tensors and their shapes, the net it was trained with (metadata net.name,\n"
    "net.hash, net.file, which `dlbhc train` writes; converted files have none) and, for a training\n"
    "snapshot, its iteration. Nothing is written.\n"
    "  --json    the same as one JSON object on stdout\n"
    "examples:\n"
    "  dlbhc info demo/fashion_train.idx\n"
    "  dlbhc info --json demo/small_dlbhc_iter_15000.weights\n";

namespace {

// What the codes of an index say about the hashing (computed from the codes alone).
struct CodeHealth {
    size_t n = 0, distinct = 0, largest_group = 0;
    size_t largest_item = 0;   // an item of the largest group
    std::vector<double> ones;  // share of ones per bit
    double min = 0, mean = 0, max = 0, mean_gap = 0;
    int min_bit = 0, max_bit = 0;
    std::vector<int> outside;  // bits whose share is outside [0.1, 0.9]
};

CodeHealth code_health(const CodeView& c) {
    CodeHealth h;
    h.n = c.n;
    h.ones.assign(size_t(c.bits), 0.0);
    if (c.n == 0) return h;
    std::vector<uint64_t> count(size_t(c.words) * 64, 0);
    for (size_t i = 0; i < c.n; ++i)
        for (int w = 0; w < c.words; ++w)
            for (uint64_t v = c.code(i)[w]; v; v &= v - 1) ++count[size_t(w) * 64 + size_t(__builtin_ctzll(v))];
    for (int b = 0; b < c.bits; ++b) {
        const double s = double(count[size_t(b)]) / double(c.n);
        h.ones[size_t(b)] = s;
        if (b == 0 || s < h.min) h.min = s, h.min_bit = b;
        if (b == 0 || s > h.max) h.max = s, h.max_bit = b;
        h.mean += s / c.bits;
        h.mean_gap += std::fabs(s - 0.5) / c.bits;
        if (s < 0.1 || s > 0.9) h.outside.push_back(b);
    }
    // Identical codes: sort the items by code, then count the runs.
    std::vector<uint32_t> order(c.n);
    std::iota(order.begin(), order.end(), 0u);
    auto less = [&](uint32_t a, uint32_t b) {
        return std::lexicographical_compare(c.code(a), c.code(a) + c.words, c.code(b), c.code(b) + c.words);
    };
    std::stable_sort(order.begin(), order.end(), less);  // a group is shown by its first item
    for (size_t i = 0; i < c.n;) {
        size_t j = i + 1;
        while (j < c.n && std::equal(c.code(order[i]), c.code(order[i]) + c.words, c.code(order[j]))) ++j;
        ++h.distinct;
        if (j - i > h.largest_group) h.largest_group = j - i, h.largest_item = order[i];
        i = j;
    }
    return h;
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// A value as text on a terminal: control bytes as '?'.
std::string printable(const std::string& s) {
    std::string o = s;
    for (char& ch : o)
        if ((unsigned char)ch < 32 || ch == 127) ch = '?';
    return o;
}

std::string quoted(const std::string& s) { return "\"" + json_escape(s) + "\""; }

std::string features_text(const IndexFile& f) {
    return f.has_features() ? std::to_string(f.feature_dim()) + "-d " + feature_type_name(f.feature_type()) + " features"
                            : "no features";
}

void print_index(const IndexFile& f, uint64_t bytes) {
    std::printf("index %s: format version %u, %zu items, %d-bit codes, %s, %llu bytes\n", f.path().c_str(), f.version(),
                f.size(), f.bits(), features_text(f).c_str(), (unsigned long long)bytes);
    const Provenance& p = f.provenance();
    if (!f.has_provenance()) {
        std::printf("provenance: none recorded (%s); re-index to record it\n",
                    f.version() < 2 ? "format version 1, written by an older dlbhc" : "written without it");
    } else {
        std::printf("provenance:\n");
        for (const auto& kv : p.fields) std::printf("  %-22s %s\n", kv.first.c_str(), printable(kv.second).c_str());
        for (size_t i = 0; i < p.sources.size(); ++i)
            std::printf("  %-22s %s%s, %llu items\n", ("data source " + std::to_string(i)).c_str(),
                        printable(p.sources[i].source).c_str(),
                        p.sources[i].root.empty() ? "" : (" (root " + printable(p.sources[i].root) + ")").c_str(),
                        (unsigned long long)p.sources[i].items);
    }
    const CodeView c = f.codes();
    if (c.n == 0) {
        std::printf("codes: none (an empty index)\n");
        return;
    }
    const CodeHealth h = code_health(c);
    std::printf("codes (computed from the %zu codes):\n", h.n);
    std::printf("  %-22s %zu (%.1f%% of the items)\n", "distinct codes", h.distinct, 100.0 * double(h.distinct) / double(h.n));
    if (h.largest_group == 1)
        std::printf("  %-22s 1 item: no two items share a code\n", "largest group");
    else
        std::printf("  %-22s %zu items share code %s (item %zu)\n", "largest group", h.largest_group,
                    code_hex(c.code(h.largest_item), c.words, c.bits).c_str(), h.largest_item);
    std::printf("  %-22s min %.3f (bit %d), mean %.3f, max %.3f (bit %d)\n", "share of ones per bit", h.min, h.min_bit,
                h.mean, h.max, h.max_bit);
    std::string list;
    for (size_t i = 0; i < h.outside.size() && i < 32; ++i) list += (i ? ", " : ": ") + std::to_string(h.outside[i]);
    if (h.outside.size() > 32) list += ", ...";
    std::printf("  %-22s %zu of %d%s\n", "bits outside [0.1,0.9]", h.outside.size(), c.bits, list.c_str());
    std::printf("  %-22s %.3f\n", "mean |share - 0.5|", h.mean_gap);
}

std::string index_json(const IndexFile& f, uint64_t bytes) {
    std::string j = "{\n  \"file\": " + quoted(f.path()) + ",\n  \"kind\": \"index\",\n  \"format_version\": " +
                    std::to_string(f.version()) + ",\n  \"items\": " + std::to_string(f.size()) + ",\n  \"bits\": " +
                    std::to_string(f.bits()) + ",\n  \"feature_dim\": " + std::to_string(f.feature_dim()) +
                    ",\n  \"feature_type\": " + quoted(feature_type_name(f.feature_type())) + ",\n  \"bytes\": " +
                    std::to_string(bytes) + ",\n  \"provenance\": ";
    const Provenance& p = f.provenance();
    if (!f.has_provenance()) {
        j += "null";
    } else {
        j += "{";
        for (size_t i = 0; i < p.fields.size(); ++i)
            j += std::string(i ? "," : "") + "\n    " + quoted(p.fields[i].first) + ": " + quoted(p.fields[i].second);
        j += std::string(p.fields.empty() ? "" : ",") + "\n    \"data_sources\": [";
        for (size_t i = 0; i < p.sources.size(); ++i)
            j += std::string(i ? ", " : "") + "{\"source\": " + quoted(p.sources[i].source) + ", \"root\": " +
                 quoted(p.sources[i].root) + ", \"items\": " + std::to_string(p.sources[i].items) + "}";
        j += "]\n  }";
    }
    const CodeView c = f.codes();
    const CodeHealth h = code_health(c);
    j += ",\n  \"codes\": ";
    if (c.n == 0) return j + "null\n}\n";
    std::string outside;
    for (size_t i = 0; i < h.outside.size(); ++i) outside += (i ? ", " : "") + std::to_string(h.outside[i]);
    std::string ones;
    for (size_t i = 0; i < h.ones.size(); ++i) ones += (i ? ", " : "") + fmt("%.6g", h.ones[i]);
    j += "{\n    \"distinct\": " + std::to_string(h.distinct) + ",\n    \"largest_group\": " +
         std::to_string(h.largest_group) + ",\n    \"largest_group_code\": " +
         quoted(code_hex(c.code(h.largest_item), c.words, c.bits)) + ",\n    \"ones_min\": " + fmt("%.6g", h.min) +
         ",\n    \"ones_min_bit\": " + std::to_string(h.min_bit) + ",\n    \"ones_mean\": " + fmt("%.6g", h.mean) +
         ",\n    \"ones_max\": " + fmt("%.6g", h.max) + ",\n    \"ones_max_bit\": " + std::to_string(h.max_bit) +
         ",\n    \"bits_outside_0.1_0.9\": [" + outside + "],\n    \"mean_abs_share_minus_half\": " +
         fmt("%.6g", h.mean_gap) + ",\n    \"ones_per_bit\": [" + ones + "]\n  }\n}\n";
    return j;
}

// What a weights file or snapshot holds, as the text and JSON outputs show it.
struct WeightsSummary {
    std::vector<const NamedTensor*> params;  // the tensors, without a snapshot's momentum
    size_t momentum = 0, values = 0;
    const std::string* iter = nullptr;      // a training snapshot's iteration
    TrainedNet net;
};

WeightsSummary summarise(const WeightsFile& w) {
    WeightsSummary s;
    for (const auto& t : w.tensors) {
        s.values += t.count();
        if (t.name.find('@') != std::string::npos) ++s.momentum;
        else s.params.push_back(&t);
    }
    const std::string* kind = w.meta("dlbhc.kind");
    if (kind && *kind == "training-snapshot") s.iter = w.meta("iter");
    s.net = trained_net(w);
    return s;
}

void print_weights(const WeightsFile& w, const std::string& path) {
    const WeightsSummary s = summarise(w);
    std::printf("weights %s: %s, %zu tensors, %zu values\n", path.c_str(),
                s.iter ? ("training snapshot at iteration " + printable(*s.iter)).c_str() : "weights file",
                w.tensors.size(), s.values);
    if (s.net.recorded())
        std::printf("trained with net '%s' (net.hash %s) from %s\n", printable(s.net.name).c_str(),
                    s.net.hash.empty() ? "(none)" : printable(s.net.hash).c_str(),
                    s.net.file.empty() ? "(no file recorded)" : printable(s.net.file).c_str());
    else
        std::printf("trained with: not recorded (converted, or written before dlbhc recorded it)\n");
    for (const char* key : {"converted_from", "source_format"})
        if (const std::string* v = w.meta(key)) std::printf("%s: %s\n", key, printable(*v).c_str());
    std::printf("tensors%s:\n", s.momentum ? (" (and the momentum of " + std::to_string(s.momentum) + ")").c_str() : "");
    for (const NamedTensor* t : s.params) std::printf("  %-28s %s\n", printable(t->name).c_str(), t->shape_str().c_str());
}

std::string weights_json(const WeightsFile& w, const std::string& path) {
    const WeightsSummary s = summarise(w);
    std::string j = "{\n  \"file\": " + quoted(path) + ",\n  \"kind\": " + quoted(s.iter ? "snapshot" : "weights") +
                    ",\n  \"iteration\": " + (s.iter ? quoted(*s.iter) : std::string("null")) + ",\n  \"trained_net\": ";
    j += s.net.recorded() ? "{\"name\": " + quoted(s.net.name) + ", \"hash\": " + quoted(s.net.hash) +
                                ", \"file\": " + quoted(s.net.file) + "}"
                          : "null";
    j += ",\n  \"values\": " + std::to_string(s.values) + ",\n  \"momentum_tensors\": " + std::to_string(s.momentum) +
         ",\n  \"tensors\": [";
    for (size_t i = 0; i < s.params.size(); ++i) {
        std::string dims;
        for (size_t d = 0; d < s.params[i]->dims.size(); ++d) dims += (d ? ", " : "") + std::to_string(s.params[i]->dims[d]);
        j += std::string(i ? "," : "") + "\n    {\"name\": " + quoted(s.params[i]->name) + ", \"shape\": [" + dims + "]}";
    }
    return j + "\n  ]\n}\n";
}

}  // namespace

int cmd_info(const std::vector<std::string>& argv) {
    Args a(argv, {}, {"json", "help"});
    if (print_help(a, {kHelp})) return 0;
    if (a.positional().size() != 1)
        throw std::invalid_argument("expected one file (usage: dlbhc info FILE [--json]), found " +
                                    std::to_string(a.positional().size()));
    const std::string path = a.positional()[0];
    char magic[8] = {};
    uint64_t bytes = 0;
    {
        InputFile in(path, "'" + path + "'");
        bytes = in.size();
        in.read(magic, sizeof magic);
    }
    if (std::memcmp(magic, "DLBHCIDX", 8) == 0) {
        const IndexFile f = IndexFile::open(path);
        if (a.has("json")) std::fputs(index_json(f, bytes).c_str(), stdout);
        else print_index(f, bytes);
        return 0;
    }
    if (has_weights_magic((const uint8_t*)magic, sizeof magic)) {
        const WeightsFile w = read_weights(path);
        if (a.has("json")) std::fputs(weights_json(w, path).c_str(), stdout);
        else print_weights(w, path);
        return 0;
    }
    throw std::invalid_argument("'" + path + "': expected a dlbhc index (magic DLBHCIDX) or weights file (magic " +
                                "DLBHCWTS), found neither (" + std::to_string(bytes) + " bytes)");
}

}  // namespace dlbhc
