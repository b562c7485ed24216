// apps/cmd_version.cpp -- `dlbhc version`.
#include <cstdio>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/version.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dlbhc {

int cmd_version(const std::vector<std::string>& argv) {
    Args a(argv, {}, {"help"});
    if (a.has("help") || !a.positional().empty()) {
        std::fputs("usage: dlbhc version\nPrints the version, whether OpenMP is on and how many threads it may use,\n"
                   "and whether the build is optimised or a debug (sanitizer) build.\n"
                   "examples:\n  dlbhc version\n",
                   a.has("help") ? stdout : stderr);
        return a.has("help") ? 0 : 2;
    }
    std::printf("dlbhc %s\n", kDlbhcVersion);
#ifdef _OPENMP
    std::printf("OpenMP: on, %d threads available\n", omp_get_max_threads());
#else
    std::printf("OpenMP: off (built with OPENMP=0)\n");
#endif
#ifdef NDEBUG
    std::printf("build: optimised\n");
#else
    std::printf("build: debug\n");
#endif
    return 0;
}

}  // namespace dlbhc
