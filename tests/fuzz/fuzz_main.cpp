// tests/fuzz/fuzz_main.cpp -- the libFuzzer entry point of one target. Compiled once per target
// with -DDLBHC_FUZZ_TARGET='"<name>"' (see the Makefile's fuzz section), so each target is its own
// program build/fuzz/fuzz_<name> that also replays a crash file given as its argument.
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/targets.h"

#ifndef DLBHC_FUZZ_TARGET
#error "compile with -DDLBHC_FUZZ_TARGET='\"<name>\"'"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const dlbhc::fuzz::Target* target = [] {
        const dlbhc::fuzz::Target* t = dlbhc::fuzz::find_target(DLBHC_FUZZ_TARGET);
        if (!t) {
            std::fprintf(stderr, "dlbhc fuzz: no target named '%s'\n", DLBHC_FUZZ_TARGET);
            std::exit(2);
        }
        return t;
    }();
    target->fn(data, size);
    return 0;
}
