// tests/apps/test_export.cpp -- `dlbhc export`: the FAISS IndexBinaryFlat file and
// the .npy arrays, checked byte by byte here and loaded by the real FAISS and numpy
// (tests/apps/faiss_roundtrip.py run with /usr/bin/python3): FAISS's k-NN on the exported codes must
// give dlbhc's Hamming distances exactly, and ids that differ only among equal distances.
// Where /usr/bin/python3 cannot import faiss and numpy (Debian: python3-faiss), the round trip
// is skipped with a message; the byte-level checks always run.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "formats/npy.h"
#include "io/byte_order.h"
#include "search/faiss_export.h"
#include "search/hamming_search.h"
#include "search/index_file.h"
#include "tests/support/child_process.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::TempDir;

using dlbhc::test::error_of;
using dlbhc::test::has;
using dlbhc::test::read_all;

namespace {

const char* kPython = "/usr/bin/python3";

// n codes of `bits` bits drawn around 6 random centres with 0..2 flipped bits, so that many
// distances tie (the interesting case for comparing ids).
CodeSet clustered_codes(int bits, size_t n, std::mt19937_64& rng) {
    const int w = code_words(bits);
    std::vector<std::vector<uint64_t>> centres(6, std::vector<uint64_t>(size_t(w)));
    for (auto& c : centres)
        for (auto& x : c) x = rng();
    CodeSet set(bits);
    for (size_t i = 0; i < n; ++i) {
        std::vector<uint64_t> c = centres[rng() % centres.size()];
        for (int f = int(rng() % 3); f > 0; --f) {
            const int b = int(rng() % uint64_t(bits));
            c[size_t(b / 64)] ^= 1ull << (b % 64);
        }
        set.add(c.data());  // clears the unused high bits
    }
    return set;
}

// The index of the test: `codes`, labels i % 7 - 1 (so -1 appears), names "item<i>".
void write_test_index(const std::string& path, const CodeSet& codes) {
    std::vector<int32_t> labels;
    std::vector<std::string> names;
    for (size_t i = 0; i < codes.size(); ++i) labels.push_back(int32_t(i % 7) - 1), names.push_back("item" + std::to_string(i));
    IndexItems items;
    items.codes = codes.view();
    items.labels = labels.data();
    items.names = &names;
    write_index(path, items);
}

// The packed bytes of every code, checked bit by bit against the documented layout: bit j of the
// code is bit j % 8 of byte j / 8; the padding bits up to a multiple of 8 are zero.
std::string packed_and_checked(const CodeView& codes) {
    const size_t bytes = packed_code_bytes(codes.bits);
    std::string all;
    std::vector<uint8_t> row(bytes);
    for (size_t i = 0; i < codes.n; ++i) {
        pack_code(codes, i, row.data());
        for (size_t j = 0; j < bytes * 8; ++j) {
            const bool want = int(j) < codes.bits && code_bit(codes.code(i), int(j));
            REQUIRE(((row[j / 8] >> (j % 8)) & 1) == int(want));
        }
        all.append((const char*)row.data(), row.size());
    }
    return all;
}

bool python_has_faiss(const std::string& log) {
    try {
        test::run_process(kPython, {"-c", "import faiss, numpy"}, log);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& word) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.compare(0, word.size() + 1, word + " ") == 0) out.push_back(line.substr(word.size() + 1));
    return out;
}

// FAISS's hits for one query ("<dist>:<id> ..."), checked against dlbhc's k-NN `ours` on the same
// codes: the distance lists are equal; every FAISS id is a distinct item at the distance FAISS
// gives (recomputed here); for each distance below the last one both have the same id set (ties
// at the last distance may be cut at different items).
void check_hits(const std::string& line, const std::vector<HammingHit>& ours, const CodeView& db, const uint64_t* q) {
    std::istringstream in(line);
    std::vector<std::pair<uint32_t, int64_t>> theirs;
    for (std::string tok; in >> tok;) {
        const size_t colon = tok.find(':');
        REQUIRE(colon != std::string::npos);
        theirs.emplace_back(uint32_t(std::stoul(tok.substr(0, colon))), std::stoll(tok.substr(colon + 1)));
    }
    REQUIRE(theirs.size() == ours.size());
    std::map<uint32_t, std::set<int64_t>> by_dist_theirs, by_dist_ours;
    std::set<int64_t> seen;
    for (size_t r = 0; r < ours.size(); ++r) {
        CHECK(theirs[r].first == ours[r].distance);
        const int64_t id = theirs[r].second;
        REQUIRE(id >= 0);
        REQUIRE(size_t(id) < db.n);
        CHECK(seen.insert(id).second);
        uint32_t d = 0;
        for (int w = 0; w < db.words; ++w) d += uint32_t(__builtin_popcountll(db.code(size_t(id))[w] ^ q[w]));
        CHECK(d == theirs[r].first);
        by_dist_theirs[theirs[r].first].insert(id);
        by_dist_ours[ours[r].distance].insert(ours[r].index);
    }
    if (ours.empty()) return;
    const uint32_t last = ours.back().distance;
    for (const auto& [d, ids] : by_dist_ours)
        if (d < last) CHECK(by_dist_theirs[d] == ids);
}

}  // namespace

TEST_CASE("export: FAISS IndexBinaryFlat bytes, .npy bytes, and the real FAISS and numpy agree with dlbhc's k-NN") {
    TempDir dir;
    const bool python = python_has_faiss(dir.file("python.log"));
    if (!python)
        MESSAGE("skipped the FAISS round trip: " << kPython
                << " cannot import faiss and numpy (Debian: apt-get install python3-faiss); byte checks only");
    std::mt19937_64 rng(2024);
    for (int bits : {48, 20, 64, 130}) {
        CAPTURE(bits);
        const size_t n = 300, nq = 17, k = 12;
        const CodeSet db = clustered_codes(bits, n, rng);
        const CodeSet queries = clustered_codes(bits, nq, rng);  // other centres: far and near items
        CodeSet q2(bits);  // half the queries are database items (distance-0 ties among duplicates)
        for (size_t i = 0; i < nq; ++i) q2.add(i % 2 ? queries.code(i) : db.code(i * 7));
        const std::string tag = std::to_string(bits);
        const std::string idx = dir.file(tag + ".idx"), faiss = dir.file(tag + ".faiss");
        write_test_index(idx, db);
        REQUIRE(cmd_export({"--format", "faiss", idx, faiss}) == 0);
        REQUIRE(cmd_export({"--format", "npy", idx, dir.file(tag)}) == 0);  // a prefix: <tag>.codes.npy

        // The FAISS file, byte by byte (search/faiss_export.h).
        const size_t cs = size_t(bits + 7) / 8;
        const std::string f = read_all(faiss), packed = packed_and_checked(db.view());
        REQUIRE(f.size() == 33 + n * cs);
        const uint8_t* h = (const uint8_t*)f.data();
        CHECK(f.compare(0, 4, "IBxF") == 0);
        CHECK(load_le32(h + 4) == cs * 8);  // d
        CHECK(load_le32(h + 8) == cs);      // code_size
        CHECK(load_le64(h + 12) == n);      // ntotal
        CHECK(h[20] == 1);                  // is_trained
        CHECK(load_le32(h + 21) == 1);      // metric_type
        CHECK(load_le64(h + 25) == n * cs);
        CHECK(f.substr(33) == packed);

        // The .npy files: the codes are the same bytes under a '|u1' (N, ceil(B/8)) header; the
        // labels int64.
        const std::string codes_npy = read_all(dir.file(tag + ".codes.npy"));
        CHECK(codes_npy == npy_header("|u1", {int64_t(n), int64_t(cs)}) + packed);
        std::string dtype;
        const NamedTensor labels = read_npy(dir.file(tag + ".labels.npy"), &dtype);
        CHECK(dtype == "<i8");
        REQUIRE(labels.dims == std::vector<int64_t>{int64_t(n)});
        for (size_t i = 0; i < n; ++i) REQUIRE(labels.data[i] == float(int(i % 7) - 1));

        if (!python) continue;
        // The real FAISS and numpy.
        const std::string qnpy = dir.file(tag + "_q.npy"), result = dir.file(tag + "_result.txt");
        {
            std::ofstream qf(qnpy, std::ios::binary);
            qf << npy_header("|u1", {int64_t(nq), int64_t(cs)}) << packed_and_checked(q2.view());
        }
        test::run_process(kPython,
                          {test::repo_path("tests/apps/faiss_roundtrip.py"), faiss, qnpy, std::to_string(k), dir.file(tag + "."),
                           std::to_string(bits), result},
                          dir.file("python.log"));
        const std::string out = read_all(result);
        CHECK(lines_starting(out, "index") ==
              std::vector<std::string>{std::to_string(n) + " " + std::to_string(cs * 8) + " " + std::to_string(cs) +
                                       " IndexBinaryFlat"});
        CHECK(lines_starting(out, "npy") ==
              std::vector<std::string>{"uint8 " + std::to_string(n) + "x" + std::to_string(cs) + " int64 " +
                                       std::to_string(n) + " True"});
        std::string want_labels;
        for (size_t i = 0; i < n; ++i) want_labels += (i ? " " : "") + std::to_string(int(i % 7) - 1);
        CHECK(lines_starting(out, "labels") == std::vector<std::string>{want_labels});
        // numpy's unpackbits(bitorder='little') gives dlbhc's bits: the documented recipe.
        const auto bit_lines = lines_starting(out, "bits");
        REQUIRE(bit_lines.size() == n);
        for (size_t i = 0; i < n; ++i) {
            std::string want;
            for (int j = 0; j < bits; ++j) want += code_bit(db.code(i), j) ? '1' : '0';
            REQUIRE(bit_lines[i] == want);
        }
        const auto q_lines = lines_starting(out, "q");
        REQUIRE(q_lines.size() == nq);
        const auto ours = hamming_knn_batch(db.view(), q2.view(), k);
        for (size_t q = 0; q < nq; ++q) {
            CAPTURE(q);
            check_hits(q_lines[q], ours[q], db.view(), q2.code(q));
        }
    }
}

TEST_CASE("export: bad formats, arguments and outputs are refused before anything is written") {
    TempDir dir;
    const std::string idx = dir.file("a.idx");
    std::mt19937_64 rng(5);
    write_test_index(idx, clustered_codes(16, 5, rng));
    CHECK(has(error_of([&] { cmd_export({"--format", "hnsw", idx, dir.file("o")}); }),
              "--format: expected faiss or npy, found 'hnsw'"));
    CHECK(has(error_of([&] { cmd_export({idx, dir.file("o")}); }), "--format is required"));
    CHECK(has(error_of([&] { cmd_export({"--format", "faiss", idx}); }), "expected INDEX.idx and OUT"));
    CHECK(has(error_of([&] { cmd_export({"--format", "faiss", dir.file("none.idx"), dir.file("o")}); }), "none.idx"));
    CHECK(has(error_of([&] { cmd_export({"--format", "faiss", idx, dir.path}); }), "found an existing folder"));
    CHECK(has(error_of([&] { cmd_export({"--format", "npy", idx, dir.file("a.idx/x")}); }), "expected '" + idx + "' to be a folder"));
    CHECK(test::list_folder(dir.path) == std::vector<std::string>{"a.idx"});
    // A folder (existing, or a new name ending in '/') takes codes.npy and labels.npy.
    REQUIRE(cmd_export({"--format", "npy", idx, dir.path}) == 0);
    REQUIRE(cmd_export({"--format", "npy", idx, dir.file("new/")}) == 0);
    CHECK(test::list_folder(dir.path) == std::vector<std::string>{"a.idx", "codes.npy", "labels.npy", "new"});
    CHECK(test::list_folder(dir.file("new")) == std::vector<std::string>{"codes.npy", "labels.npy"});
    CHECK(read_all(dir.file("codes.npy")) == read_all(dir.file("new/codes.npy")));
}
