// apps/cmd_version.cpp -- `dlbhc version`.
#include <cstdio>

#include "apps/commands.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dlbhc {

int cmd_version(const std::vector<std::string>&) {
    std::printf("dlbhc 0.1.0\n");
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
