// apps/provenance.cpp -- see provenance.h.
#include "apps/provenance.h"

#include "apps/args.h"

#include <cstdio>
#include <stdexcept>

#include "apps/version.h"
#include "formats/net_builder.h"
#include "io/byte_order.h"
#include "io/xxhash64.h"
#include "search/index_file.h"

namespace dlbhc {

namespace k = provenance_key;

std::string hash_hex(uint64_t h) {
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", (unsigned long long)h);
    return b;
}

std::string net_hash(const NetSpec& spec, int latent_bits) {
    const std::string d = code_path(spec, Phase::Test, latent_bits).description;
    return hash_hex(xxhash64(d.data(), d.size()));
}

TrainedNet trained_net_record(const NetSpec& spec, const std::string& net_name, int latent_bits,
                              const std::string& net_path) {
    TrainedNet t;
    t.name = net_name;
    t.hash = net_hash(spec, latent_bits);
    t.file = net_path;
    return t;
}

namespace {

// weights.hash (see provenance.h): the parameters of `layers` as loaded into the net.
std::string weights_hash(Net& net, const std::vector<std::string>& layers) {
    XxHash64 h;
    unsigned char word[8];
    auto put32 = [&](uint32_t v) {
        store_le32(word, v);
        h.update(word, 4);
    };
    for (const std::string& name : layers)
        for (Param& p : net.layer(name)->params()) {
            put32((uint32_t)p.name.size());
            h.update(p.name.data(), p.name.size());
            const Shape s = p.value.shape();
            std::vector<uint64_t> dims;
            for (int d : {s.n, s.c, s.h, s.w})
                if (d != 1) dims.push_back((uint64_t)d);
            put32((uint32_t)dims.size());
            for (uint64_t d : dims) {
                store_le64(word, d);
                h.update(word, 8);
            }
            h.update(p.value.data(), p.value.count() * sizeof(float));  // little-endian hosts only (index_file.cpp)
        }
    return hash_hex(h.digest());
}

std::string number(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.9g", v);
    return b;
}

std::string mean_description(const TransformParam& t) {
    if (!t.mean_image.empty())
        return "image " + std::to_string(t.mean_c) + "x" + std::to_string(t.mean_h) + "x" + std::to_string(t.mean_w) +
               " " + hash_hex(xxhash64(t.mean_image.data(), t.mean_image.size() * sizeof(float)));
    if (t.mean_values.empty()) return "none";
    std::string s = "values";
    for (float v : t.mean_values) s += " " + number(v);
    return s;
}

}  // namespace

Provenance codes_provenance(const EncodeSetup& es, int latent_bits, const std::string& weights_path) {
    const CodePath path = code_path(es.spec, Phase::Test, latent_bits);
    const Shape in = es.net->blob("data")->shape();
    const TransformParam& t = es.transform;
    Provenance p;
    p.set(k::kVersion, kDlbhcVersion);
    p.set(k::kNetName, es.net->name());
    p.set(k::kNetHash, hash_hex(xxhash64(path.description.data(), path.description.size())));
    p.set(k::kWeightsHash, weights_hash(*es.net, path.layers));
    p.set(k::kWeightsFile, weights_path);
    p.set(k::kInput, std::to_string(in.c) + "x" + std::to_string(in.h) + "x" + std::to_string(in.w));
    p.set(k::kResize, std::to_string(t.resize));
    p.set(k::kCrop, std::to_string(t.crop));
    p.set(k::kMirror, "off");  // the TEST phase never mirrors (data/transform.h)
    p.set(k::kScale, number(t.scale));
    p.set(k::kMean, mean_description(t));
    if (!es.mean_file.empty()) p.set(k::kMeanFile, es.mean_file);
    p.set(k::kCodeBlob, es.latent_blob);
    p.set(k::kFeatureBlob, es.feature_blob);
    return p;
}

void warn_no_provenance(const IndexFile& db, const std::string& consequence) {
    std::fprintf(stderr, "warning: index '%s' records no provenance (%s): %s; re-index it to record them\n",
                 db.path().c_str(),
                 db.version() < 2 ? "format version 1, written by an older dlbhc" : "written without it",
                 consequence.c_str());
}

namespace {

std::string value_of(const Provenance& p, const char* key) {
    const std::string* v = p.get(key);
    return v && !v->empty() ? *v : "(none)";
}

}  // namespace

void check_index_provenance(const IndexFile& db, const Provenance& run, const std::string& net_path,
                            const std::string& weights_path) {
    if (!db.has_provenance()) {
        warn_no_provenance(db, "the net and weights it was built with cannot be checked against --net and --weights");
        return;
    }
    const Provenance& ix = db.provenance();
    const std::vector<ProvenanceDifference> diffs = provenance_differences(ix, run, true);
    if (diffs.empty()) return;
    std::string parts;
    for (const auto& d : diffs) {
        std::string part;
        if (d.key == k::kWeightsHash)
            part = "weights " + d.a + " ('" + value_of(ix, k::kWeightsFile) + "', net '" + value_of(ix, k::kNetName) +
                   "' " + value_of(ix, k::kNetHash) + "); --weights '" + weights_path + "' are " + d.b;
        else if (d.key == k::kNetHash)
            part = "net '" + value_of(ix, k::kNetName) + "' " + (d.a.empty() ? "(none)" : d.a) + "; --net '" + net_path +
                   "' (net '" + value_of(run, k::kNetName) + "') is " + d.b;
        else
            part = d.key + " '" + (d.a.empty() ? "(none)" : d.a) + "'; this run's (--net '" + net_path + "') is '" + d.b +
                   "'";
        parts += (parts.empty() ? "" : "; and with ") + part;
    }
    throw std::invalid_argument("index '" + db.path() + "' was built with " + parts +
                                ": the codes are not comparable; re-index with this net and these weights, or use "
                                "the ones the index was built with");
}

std::unique_ptr<Dataset> recorded_db_data(const IndexFile& db, const SourceOptions& so_in, std::string& why) {
    const Provenance& p = db.provenance();
    if (p.sources.empty()) {
        why = db.has_provenance() ? "index '" + db.path() + "' records no data source"
                                  : "index '" + db.path() + "' records no provenance (written by an older dlbhc)";
        return nullptr;
    }
    if (p.sources.size() > 1) {
        why = "index '" + db.path() + "' was built from " + std::to_string(p.sources.size()) +
              " data sources ('" + p.sources[0].source + "', '" + p.sources[1].source + "'" +
              (p.sources.size() > 2 ? ", ..." : "") + ")";
        return nullptr;
    }
    const DataSource& s = p.sources[0];
    const std::string src = "its data source '" + s.source + "'";
    if (s.items != db.size()) {
        why = "index '" + db.path() + "' holds " + std::to_string(db.size()) + " items but " + src + " had " +
              std::to_string(s.items);
        return nullptr;
    }
    SourceOptions so = so_in;
    if (so.root.empty()) so.root = s.root;
    std::unique_ptr<Dataset> ds;
    try {
        ds = open_dataset(s.source, so);
    } catch (const std::exception& e) {
        why = src + " cannot be opened here (" + e.what() + ")";
        return nullptr;
    }
    if (ds->size() != db.size()) {
        why = src + " holds " + std::to_string(ds->size()) + " items here, the index " + std::to_string(db.size());
        return nullptr;
    }
    for (size_t i : {size_t(0), db.size() / 2, db.size() - 1}) {
        if (db.size() == 0) break;
        if (ds->name(i) != db.name(i) || ds->label(i) != db.label(i)) {
            why = "item " + std::to_string(i) + " of " + src + " is '" + ds->name(i) + "' (label " +
                  std::to_string(ds->label(i)) + "), the index's is '" + std::string(db.name(i)) + "' (label " +
                  std::to_string(db.label(i)) + "): not the same data";
            return nullptr;
        }
    }
    return ds;
}

bool queries_are_index_items(const IndexFile& db, const std::string& spec, const SourceOptions& so_in) {
    const Provenance& p = db.provenance();
    if (p.sources.size() != 1 || p.sources[0].items != db.size()) return false;
    SourceOptions so = so_in;
    if (so.root.empty()) so.root = p.sources[0].root;
    const std::vector<std::string> recorded = dataset_files(p.sources[0].source, so), given = dataset_files(spec, so_in);
    if (recorded.empty() || recorded.size() != given.size()) return false;
    for (size_t i = 0; i < given.size(); ++i)
        if (canonical_output(recorded[i]) != canonical_output(given[i])) return false;
    return true;
}

}  // namespace dlbhc
