// apps/progress.h -- the progress line of the long commands (index, encode, eval, merge, export):
// "encoded 5000/10000 images  812 img/s, 6 s left" on stderr, each `every` items and at the end
// (where the time left becomes the time taken). On a terminal each update overwrites the last
// (\r); in a log file each is a line of its own.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

namespace dlbhc {

class Progress {
public:
    // `verb` "encoded", `unit` "images", `rate_unit` "img" (per second); `on` false: prints nothing.
    Progress(std::string verb, std::string unit, std::string rate_unit, size_t total, bool on, size_t every = 5000);
    void add(size_t items) { set(done_ + items); }
    void set(size_t done);
    void set(size_t done, size_t total) {  // when the total is known only once the work starts
        total_ = total;
        set(done);
    }

private:
    const std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
    std::string verb_, unit_, rate_unit_;
    size_t total_, every_, done_ = 0, last_print_ = 0;
    bool on_, terminal_;
};

// "12 s", "3 min 05 s", "1 h 02 min": a duration for a progress line.
std::string duration_text(double seconds);

}  // namespace dlbhc
