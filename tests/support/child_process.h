// tests/support/child_process.h -- running the real `dlbhc` program from a test: find it, start it as a
// separate process (posix_spawn, so a test process that already has OpenMP threads never forks a
// copy of itself), wait for it, kill it, and watch a folder for the files it creates.
//
// Used by tests/apps/test_crash.cpp, which kills `dlbhc index` and `dlbhc train` at random points and
// reads an index while another process replaces it, and by tests/formats/test_caffemodel.cpp (which runs
// `dlbhc convert` and weights/fetch.sh through a shell).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dlbhc {
namespace test {

// The dlbhc program to run: $DLBHC_BIN if set, else "dlbhc" in the folder of the running test
// binary (`make test` builds both into build/<variant>/). Throws std::runtime_error saying how to
// build it when that file is missing or not executable. DLBHC_BIN may be a script that runs the
// program some other way: `make test-aarch64` points it at one that runs the aarch64 dlbhc under
// qemu-user (no binfmt_misc registration needed), as the tests also start it through a shell.
std::string dlbhc_binary();

// Starts `program` with `args` (argv[1..]) in the current folder. stdout goes to /dev/null and
// stderr is appended to `log_path`, so a failure can be shown. The environment is ours plus
// OMP_NUM_THREADS=1 (one thread: the tests start many short runs on a shared machine).
// Returns the child's pid; throws std::runtime_error if it cannot be started.
pid_t spawn_process(const std::string& program, const std::vector<std::string>& args, const std::string& log_path);

// How a child ended.
struct ChildExit {
    bool exited = false;    // returned from main / called exit
    int code = 0;           // its exit status when exited
    bool signalled = false; // killed by a signal
    int signal = 0;
    bool timed_out = false; // run_with_timeout killed it (SIGKILL) when its time was up
};
// Waits for (and reaps) the child.
ChildExit wait_process(pid_t pid);

// Runs the program and waits at most `timeout_s` seconds; a child still running then is killed
// (SIGKILL), reaped and reported with timed_out, so a hang fails a test instead of blocking it.
ChildExit run_with_timeout(const std::string& program, const std::vector<std::string>& args,
                           const std::string& log_path, double timeout_s);

// Runs the program to completion; returns its wall time in seconds. Throws std::runtime_error with
// the command and the end of its stderr unless it exits with status 0.
double run_process(const std::string& program, const std::vector<std::string>& args, const std::string& log_path);

// The last `max_bytes` of a text file ("" if unreadable), for failure messages.
std::string file_tail(const std::string& path, size_t max_bytes = 2000);

// Waits (inotify) until a file whose name contains `part` is created in `folder`, the `nth`
// such creation counting from 1, or until `timeout_s` seconds pass or the child `pid` has
// exited (not reaped: a zombie still counts as alive for kill(), so this polls waitpid with
// WNOHANG | WNOWAIT). Returns true when the creation was seen. The watch must be set up before the
// child starts: construct a FolderWatch first, then spawn, then call wait_for_creation.
class FolderWatch {
public:
    explicit FolderWatch(const std::string& folder);
    ~FolderWatch();
    FolderWatch(const FolderWatch&) = delete;
    FolderWatch& operator=(const FolderWatch&) = delete;
    bool wait_for_creation(const std::string& part, int nth, double timeout_s, pid_t pid);

private:
    int fd_ = -1;
    std::string folder_;
};

}  // namespace test
}  // namespace dlbhc
