// tests/support/commands.h -- running dlbhc's commands in the test process: their argument lists
// and what they print. The commands print with printf and std::cout to file descriptors 1 and 2,
// so the descriptors themselves are redirected, not the C++ streams.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "tests/support/test_files.h"

namespace dlbhc {
namespace test {

// The arguments v followed by more.
inline std::vector<std::string> plus(std::vector<std::string> v, const std::vector<std::string>& more) {
    v.insert(v.end(), more.begin(), more.end());
    return v;
}

// Sends stdout and stderr to files from construction to destruction: "" leaves the stream where
// it is, "/dev/null" discards it. While stdout is redirected, doctest's own reports go to the
// file too, so the code run meanwhile should return what it found rather than check it.
class Redirect {
public:
    Redirect(const std::string& out, const std::string& err) {
        std::fflush(stdout);
        std::fflush(stderr);
        to(1, out);
        to(2, err);
    }
    ~Redirect() {
        std::fflush(stdout);
        std::fflush(stderr);
        for (int fd = 1; fd <= 2; ++fd)
            if (saved_[fd - 1] >= 0) {
                ::dup2(saved_[fd - 1], fd);
                ::close(saved_[fd - 1]);
            }
    }
    Redirect(const Redirect&) = delete;
    Redirect& operator=(const Redirect&) = delete;

private:
    int saved_[2] = {-1, -1};
    void to(int fd, const std::string& path) {
        if (path.empty()) return;
        const int f = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        REQUIRE_MESSAGE(f >= 0, ("cannot open " + path));
        saved_[fd - 1] = ::dup(fd);
        ::dup2(f, fd);
        ::close(f);
    }
};

// What a command printed on stdout and stderr, and the message of what it threw ("" if nothing).
struct Captured {
    std::string out, err, error;
};

// Runs fn with stdout and stderr sent to files in dir; returns what they got and what fn threw.
template <class F>
Captured capture(const TempDir& dir, F&& fn) {
    const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
    Captured c;
    {
        Redirect r(out, err);
        try {
            fn();
        } catch (const std::exception& e) {
            c.error = e.what();
        }
    }
    c.out = read_all(out);
    c.err = read_all(err);
    return c;
}

// What fn prints on stdout, kept in the file `out`; stderr goes to `err` ("": where it goes).
template <class F>
std::string stdout_of(const std::string& out, F&& fn, const std::string& err = "") {
    {
        Redirect r(out, err);
        fn();
    }
    return read_all(out);
}

// Runs fn with stdout and stderr discarded (the commands print progress and summaries).
template <class F>
void quietly(F&& fn) {
    Redirect r("/dev/null", "/dev/null");
    fn();
}

}  // namespace test
}  // namespace dlbhc
