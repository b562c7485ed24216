// apps/progress.cpp -- see progress.h.
#include "apps/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dlbhc {

Progress::Progress(std::string verb, std::string unit, std::string rate_unit, size_t total, bool on, size_t every)
    : verb_(std::move(verb)), unit_(std::move(unit)), rate_unit_(std::move(rate_unit)), total_(total),
      every_(every ? every : 1), on_(on), terminal_(on && ::isatty(::fileno(stderr))) {}

std::string duration_text(double seconds) {
    const long s = std::lround(std::max(0.0, seconds));
    char b[48];
    if (s < 60) std::snprintf(b, sizeof b, "%ld s", s);
    else if (s < 3600) std::snprintf(b, sizeof b, "%ld min %02ld s", s / 60, s % 60);
    else std::snprintf(b, sizeof b, "%ld h %02ld min", s / 3600, (s / 60) % 60);
    return b;
}

void Progress::set(size_t done) {
    done_ = done;
    if (!on_ || (done_ - last_print_ < every_ && done_ != total_) || done_ == last_print_) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const double rate = s > 0 ? done_ / s : 0.0;
    const std::string when = done_ >= total_ ? "in " + duration_text(s)
                             : rate > 0     ? duration_text((total_ - done_) / rate) + " left"
                                            : "";
    std::fprintf(stderr, "%s%s %zu/%zu %s  %.0f %s/s, %s", terminal_ ? "\r" : "", verb_.c_str(), done_, total_,
                 unit_.c_str(), rate, rate_unit_.c_str(), when.c_str());
    // On a terminal the line is padded so that a shorter update hides the end of a longer one.
    if (terminal_ && done_ < total_) std::fprintf(stderr, "    ");
    if (done_ >= total_ || !terminal_) std::fprintf(stderr, "\n");
    last_print_ = done_;
}

}  // namespace dlbhc
