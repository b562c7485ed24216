// tests/fuzz/targets.h -- the fuzz targets: one function per file reader of the product.
//
// Each target takes arbitrary bytes and feeds them to one reader the way the product does (the
// same entry points the commands use, with the file already in memory, or written to a scratch
// file when the reader only takes a path). The contract being tested:
//   - a reader either succeeds or throws std::runtime_error / std::invalid_argument, and the
//     message names the input (kFuzzName): the clear errors the product promises;
//   - anything else is a bug and reaches libFuzzer: a crash, a sanitizer report, a leak, a hang,
//     an allocation beyond -malloc_limit_mb, or any other exception (std::bad_alloc,
//     std::length_error, std::out_of_range...), which aborts as an uncaught exception;
//   - where a writer exists, what was read must survive a round trip (write, read, compare).
// The same functions run in `make test` (tests/fuzz/test_corpus.cpp) over the committed seed
// corpus and the regression inputs, so a crash found once stays fixed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dlbhc::fuzz {

// The name every input is given; every error message must contain it.
constexpr const char* kFuzzName = "fuzz-input";

using TargetFn = void (*)(const uint8_t* data, size_t size);

struct Target {
    const char* name;    // corpus folder tests/fuzz/corpus/<name>, program build/fuzz/fuzz_<name>
    TargetFn fn;
    const char* reader;  // what it exercises, for `make fuzz` output and the README
};

// Every target, in a fixed order.
const std::vector<Target>& targets();
// nullptr when there is none of that name.
const Target* find_target(const std::string& name);

// Called by the targets when a reader broke its contract: prints `what` and aborts, so libFuzzer
// records the input as a crash (and a doctest run dies loudly).
[[noreturn]] void contract_violation(const std::string& what);

// Runs f(); a std::runtime_error or std::invalid_argument whose message names the input is the
// expected outcome for bad bytes and is swallowed; one that does not name it violates the contract.
// Returns true when f() completed.
template <class F>
bool expect_clean_errors(F&& f);

// The targets (tests/fuzz/target_*.cpp).
void fuzz_idx(const uint8_t* data, size_t size);
void fuzz_cifar(const uint8_t* data, size_t size);
void fuzz_list(const uint8_t* data, size_t size);
void fuzz_image(const uint8_t* data, size_t size);
void fuzz_prototxt(const uint8_t* data, size_t size);
void fuzz_solver(const uint8_t* data, size_t size);
void fuzz_caffemodel(const uint8_t* data, size_t size);
void fuzz_binaryproto(const uint8_t* data, size_t size);
void fuzz_onnx(const uint8_t* data, size_t size);
void fuzz_npy(const uint8_t* data, size_t size);
void fuzz_weights(const uint8_t* data, size_t size);
void fuzz_index(const uint8_t* data, size_t size);

}  // namespace dlbhc::fuzz

#include <cstring>
#include <stdexcept>

template <class F>
bool dlbhc::fuzz::expect_clean_errors(F&& f) {
    auto check = [](const std::exception& e) {
        if (!std::strstr(e.what(), kFuzzName))
            contract_violation(std::string("an error message does not name the input: ") + e.what());
    };
    try {
        f();
        return true;
    } catch (const std::runtime_error& e) {
        check(e);
    } catch (const std::invalid_argument& e) {
        check(e);
    }
    return false;
}
