// tests/support/test_files.h -- the tests' general helpers: a scratch folder, reading and writing
// files (IDX, gzip, MNIST-format datasets), the repository's own files, and error messages.
#pragma once
#include <doctest/doctest.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/crc32.h"

namespace dlbhc {
namespace test {

// doctest::Contains for a std::string (for CHECK_THROWS_WITH_AS: the error message contains s).
inline doctest::Contains contains(const std::string& s) { return doctest::Contains(doctest::String(s.c_str())); }

// The whole file at path (a failed check when it cannot be read).
inline std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE_MESSAGE(f.good(), ("cannot read " + path));
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The message of the exception fn throws, or "" when it throws none.
template <class F>
std::string error_of(F&& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

// True when s contains part.
inline bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Names of the entries of `folder` (no "." or ".."), sorted; empty if it cannot be read.
inline std::vector<std::string> list_folder(const std::string& folder) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(folder.c_str())) {
        while (const dirent* e = ::readdir(d))
            if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

// A scratch folder unique to this process, removed with everything in it at the end of the scope.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/dlbhc_test_XXXXXX";
        const char* p = ::mkdtemp(tmpl);
        if (!p) throw std::runtime_error("cannot create a temporary folder");
        path = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return path + "/" + name; }
    std::string mkdir(const std::string& name) const {
        std::filesystem::create_directories(file(name));
        return file(name);
    }
    // The names in the folder, sorted: a temporary file a writer left behind shows up here.
    std::vector<std::string> files() const { return list_folder(path); }
    size_t entries() const { return files().size(); }
};

// Every file of `folder` by name with its contents, a subfolder as "(folder)"; empty if there is
// no such folder. Two calls compare equal when nothing in the folder changed.
inline std::map<std::string, std::string> folder_contents(const std::string& folder) {
    std::map<std::string, std::string> m;
    if (!std::filesystem::exists(folder)) return m;
    for (const auto& e : std::filesystem::directory_iterator(folder))
        m[e.path().filename().string()] = e.is_directory() ? "(folder)" : read_all(e.path().string());
    return m;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write " + path);
    if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
}

inline void write_text(const std::string& path, const std::string& text) {
    write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

inline void put_be32(std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back((uint8_t)(x >> s));
}

inline void put_le32(std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 0; s < 32; s += 8) v.push_back((uint8_t)(x >> s));
}

// An IDX file of unsigned bytes: header for `dims` followed by `data` (not checked against dims,
// so tests can write inconsistent files on purpose).
inline std::vector<uint8_t> make_idx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> v = {0, 0, 0x08, (uint8_t)dims.size()};
    for (uint32_t d : dims) put_be32(v, d);
    v.insert(v.end(), data.begin(), data.end());
    return v;
}

// An MNIST-format dataset in DIR/<name>/ (train-images-idx3-ubyte, train-labels-idx1-ubyte):
// `items` 28x28 images of random pixels with random labels 0..classes-1, drawn from `seed`.
// Returns its spec, "DIR/<name>/train" (data/source.h).
inline std::string write_random_mnist(const TempDir& dir, const std::string& name, uint32_t items, unsigned seed,
                                      unsigned classes = 4) {
    const std::string d = dir.mkdir(name);
    std::mt19937 rng(seed);
    std::vector<uint8_t> pixels(size_t(items) * 784), labels(items);
    for (auto& p : pixels) p = uint8_t(rng() & 255);
    for (auto& l : labels) l = uint8_t(rng() % classes);
    write_bytes(d + "/train-images-idx3-ubyte", make_idx({items, 28, 28}, pixels));
    write_bytes(d + "/train-labels-idx1-ubyte", make_idx({items}, labels));
    return d + "/train";
}

// Optional header fields of a gzip member written by make_gzip.
struct GzipHeader {
    bool extra = false, name = false, comment = false, hcrc = false;
    std::string extra_bytes = "AB\x04\x00xyzw", name_text = "file.idx", comment_text = "a comment";
};

// A gzip member (RFC 1952) holding `payload` in stored (uncompressed) deflate blocks of at most
// block_bytes each, with the optional header fields asked for and a correct trailer.
inline std::vector<uint8_t> make_gzip(const std::vector<uint8_t>& payload, const GzipHeader& h = {},
                                      size_t block_bytes = 65535) {
    const uint8_t flg = (h.hcrc ? 2 : 0) | (h.extra ? 4 : 0) | (h.name ? 8 : 0) | (h.comment ? 16 : 0);
    std::vector<uint8_t> v = {0x1f, 0x8b, 8, flg, 0x12, 0x34, 0x56, 0x78, 0, 3};
    if (h.extra) {
        v.push_back((uint8_t)h.extra_bytes.size());
        v.push_back((uint8_t)(h.extra_bytes.size() >> 8));
        v.insert(v.end(), h.extra_bytes.begin(), h.extra_bytes.end());
    }
    if (h.name) v.insert(v.end(), h.name_text.c_str(), h.name_text.c_str() + h.name_text.size() + 1);
    if (h.comment) v.insert(v.end(), h.comment_text.c_str(), h.comment_text.c_str() + h.comment_text.size() + 1);
    if (h.hcrc) {
        const uint32_t c = crc32(v.data(), v.size());
        v.push_back((uint8_t)c);
        v.push_back((uint8_t)(c >> 8));
    }
    size_t pos = 0;
    do {
        const size_t len = std::min(block_bytes, payload.size() - pos);
        const bool final = pos + len == payload.size();
        v.push_back(final ? 1 : 0);  // BFINAL, BTYPE 00 (stored), then padding to the byte
        v.push_back((uint8_t)len);
        v.push_back((uint8_t)(len >> 8));
        v.push_back((uint8_t)~len);
        v.push_back((uint8_t)(~len >> 8));
        v.insert(v.end(), payload.begin() + pos, payload.begin() + pos + len);
        pos += len;
    } while (pos < payload.size());
    put_le32(v, crc32(payload.data(), payload.size()));
    put_le32(v, (uint32_t)payload.size());
    return v;
}

// A file of the repository (rel as "tests/fixtures/...", "weights/...", "Makefile"), as a path
// from the working folder. `make test` runs the tests at the repository root, so rel itself is
// usually it; run from elsewhere, the root is two folders above the test binary
// (<root>/build/<variant>/dlbhc_tests), or else where this header was compiled from.
inline std::string repo_path(const std::string& rel) {
    static const std::string root = [] {
        const std::string self = "tests/support/test_files.h";
        if (std::ifstream(self).good()) return std::string();
        char exe[4096];
        const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            const std::string bin(exe, size_t(n));
            const std::string up = bin.substr(0, bin.rfind('/')) + "/../../";
            if (std::ifstream(up + self).good()) return up;
        }
        const std::string f = __FILE__;
        const size_t s = f.rfind(self);
        return s == std::string::npos ? std::string() : f.substr(0, s);
    }();
    return root + rel;
}

// A file of the reference data kept beside the checkout, not in the repository (rel as
// "ssdh/train_val.prototxt"): under $DLBHC_SHARED_DIR when that is set, else ../shared next to the
// repository root. A test that reads one skips, with a MESSAGE naming the path, when it is absent
// (a clean clone, CI).
inline std::string shared_path(const std::string& rel) {
    const char* dir = std::getenv("DLBHC_SHARED_DIR");
    return (dir && *dir ? std::string(dir) + "/" : repo_path("../shared/")) + rel;
}

// The folder of the data/ fixtures, tests/fixtures/data.
inline std::string fixture_dir() { return repo_path("tests/fixtures/data"); }

}  // namespace test
}  // namespace dlbhc
