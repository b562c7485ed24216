// tests/apps/test_stream_memory.cpp -- the long commands (index, index --append, encode --latent-npy
// --features-npy, merge, export) run in memory that does not grow with the number of items: the
// real `dlbhc` on 1,000 and on 16,000 items of a net with 512-d features (2 KB of features per
// item: 30 MB more for the larger set if they were held), peak resident memory (VmHWM) compared.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using namespace dlbhc::test;

namespace {

// Runs dlbhc with `args` to completion (status 0 required) and returns its peak resident memory
// in MB: the VmHWM it reports through DLBHC_TEST_PEAK_FILE (apps/main.cpp; the ru_maxrss of a
// spawned child would start at this test process's own size).
double peak_mb(const std::string& bin, const std::vector<std::string>& args, const std::string& log,
               const std::string& peak_file) {
    ::setenv("DLBHC_TEST_PEAK_FILE", peak_file.c_str(), 1);
    // In the sanitizer build (DEBUG=1), AddressSanitizer keeps freed memory in a quarantine whose
    // size grows with what was allocated: the peak would grow with N there for that reason alone.
    // (Ignored by the other builds.)
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string saved = asan ? asan : "";
    ::setenv("ASAN_OPTIONS", (saved + (asan ? ":" : "") + "quarantine_size_mb=0:thread_local_quarantine_size_kb=0").c_str(), 1);
    const ChildExit e = run_with_timeout(bin, args, log, 60);
    if (asan) ::setenv("ASAN_OPTIONS", saved.c_str(), 1);
    else ::unsetenv("ASAN_OPTIONS");
    ::unsetenv("DLBHC_TEST_PEAK_FILE");
    INFO("dlbhc ", args.front(), ": ", file_tail(log));
    REQUIRE(e.exited);
    REQUIRE(e.code == 0);
    const std::string line = read_all(peak_file);  // "VmHWM:     35420 kB"
    REQUIRE(has(line, "VmHWM:"));
    return std::stod(line.substr(6)) / 1024.0;
}

// The tiny net with 512-d features (2 KB per item) and weights from its fillers.
void write_wide_net(const std::string& net, const std::string& weights) {
    TinyNet t;
    t.fc7 = 512, t.test_batch = 50;
    write_text(net, tiny_net_prototxt(t));
    write_filler_weights(net, weights, 7);
}

}  // namespace

TEST_CASE("memory: index, append, encode, merge and export peak at the same memory for 1,000 and 16,000 items") {
    TempDir d;
    const std::string bin = dlbhc_binary(), log = d.file("log");
    const std::string net = d.file("net.prototxt"), weights = d.file("w.weights");
    write_wide_net(net, weights);
    const std::string small = write_random_mnist(d, "small", 1000, 1), large = write_random_mnist(d, "large", 16000, 2);
    auto index = [&](const std::string& data, const std::string& out, bool append) {
        std::vector<std::string> a = {"index", "--net", net, "--weights", weights, "--data", data, "--out", out};
        if (append) a.push_back("--append");
        return peak_mb(bin, a, log, d.file("peak"));
    };
    const double base = index(small, d.file("s.idx"), false);
    const double big = index(large, d.file("l.idx"), false);
    CAPTURE(base);
    CHECK(big < base + 8);
    // The large set appended to a copy of the large index (the old items are copied, 32 MB).
    const double app = index(large, d.file("l.idx"), true);
    CHECK(app < base + 8);
    const double enc_small = peak_mb(bin, {"encode", "--net", net, "--weights", weights, "--data", small, "--out",
                                           d.file("s.txt"), "--latent-npy", d.file("s.lat.npy"), "--features-npy",
                                           d.file("s.feat.npy")}, log, d.file("peak"));
    const double enc = peak_mb(bin, {"encode", "--net", net, "--weights", weights, "--data", large, "--out",
                                     d.file("l.txt"), "--latent-npy", d.file("l.lat.npy"), "--features-npy",
                                     d.file("l.feat.npy")}, log, d.file("peak"));
    CHECK(enc < enc_small + 8);
    const double merge = peak_mb(bin, {"merge", d.file("m.idx"), d.file("l.idx"), d.file("s.idx")}, log, d.file("peak"));
    CHECK(merge < base + 8);
    const double exp = peak_mb(bin, {"export", "--format", "npy", d.file("m.idx"), d.file("m")}, log, d.file("peak"));
    CHECK(exp < base + 8);
    MESSAGE("peak MB: index ", base, " / ", big, ", append ", app, ", encode ", enc_small, " / ", enc, ", merge ", merge, ", export ", exp);
}

TEST_CASE("memory: eval of 16,000 queries peaks at the memory of 1,000 (queries encoded and searched a chunk at a time)") {
    TempDir d;
    const std::string bin = dlbhc_binary(), log = d.file("log");
    const std::string net = d.file("net.prototxt"), weights = d.file("w.weights");
    write_wide_net(net, weights);
    // A small database (200 items) keeps the searches short, also under qemu; the queries are what grows.
    const std::string db = write_random_mnist(d, "db", 200, 1), small = write_random_mnist(d, "small", 1000, 3),
                      large = write_random_mnist(d, "large", 16000, 2);
    REQUIRE(peak_mb(bin, {"index", "--net", net, "--weights", weights, "--data", db, "--out", d.file("db.idx")}, log,
                    d.file("peak")) > 0);
    // Every mode: the whole Hamming ranking, the fine stage and exhaustive search each hold one
    // chunk's queries (16,000 queries' features alone would be 32 MB more).
    auto eval = [&](const std::string& queries, const std::string& json) {
        return peak_mb(bin, {"eval", "--net", net, "--weights", weights, "--index", d.file("db.idx"), "--queries", queries,
                             "--k", "100", "--modes", "bcs,hds,es", "--json", json}, log, d.file("peak"));
    };
    const double base = eval(small, d.file("small.json"));
    const double big = eval(large, d.file("large.json"));
    MESSAGE("eval peak MB: 1,000 queries ", base, ", 16,000 queries ", big);
    CHECK(big < base + 8);
    CHECK(has(read_all(d.file("large.json")), "\"queries\": 16000"));
}
