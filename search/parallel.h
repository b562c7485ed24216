// search/parallel.h -- keeps exceptions inside OpenMP parallel regions.
//
// An exception that leaves an OpenMP parallel region (even a region that runs on one thread,
// `if (false)`) calls std::terminate. Every parallel loop in search/ wraps its body in
// ParallelErrors::run(), which catches whatever the body throws (std::bad_alloc, ...); the first
// exception caught is rethrown by rethrow() once the region has ended, and the iterations that
// have not started yet are skipped.
#pragma once
#include <atomic>
#include <exception>
#include <mutex>

namespace dlbhc {

class ParallelErrors {
public:
    template <class F>
    void run(F&& body) noexcept {
        if (failed_.load(std::memory_order_relaxed)) return;
        try {
            body();
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!first_) first_ = std::current_exception();
            failed_.store(true, std::memory_order_relaxed);
        }
    }
    // Call after the parallel region: rethrows the first exception caught, if any.
    void rethrow() {
        if (first_) std::rethrow_exception(first_);
    }

private:
    std::atomic<bool> failed_{false};
    std::mutex mutex_;
    std::exception_ptr first_;
};

}  // namespace dlbhc
