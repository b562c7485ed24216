// tests/support/child_process.cpp -- see child_process.h.
#include "tests/support/child_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

extern char** environ;

namespace dlbhc {
namespace test {

std::string dlbhc_binary() {
    std::string path;
    if (const char* env = std::getenv("DLBHC_BIN"); env && *env) {
        path = env;
    } else {
        char self[PATH_MAX];
        const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe to find the dlbhc program; set DLBHC_BIN");
        std::string exe(self, size_t(n));
        path = exe.substr(0, exe.rfind('/')) + "/dlbhc";
    }
    if (::access(path.c_str(), X_OK) != 0)
        throw std::runtime_error("the dlbhc program '" + path + "' is missing or not executable (" +
                                 std::strerror(errno) +
                                 "): build it beside the test binary (`make test` does; or make <build>/dlbhc) "
                                 "or set DLBHC_BIN to its path");
    return path;
}

pid_t spawn_process(const std::string& program, const std::vector<std::string>& args, const std::string& log_path) {
    std::vector<std::string> words = {program};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);

    std::vector<std::string> env_words;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) != 0) env_words.push_back(*e);
    env_words.push_back("OMP_NUM_THREADS=1");
    std::vector<char*> envp;
    for (auto& w : env_words) envp.push_back(w.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = -1;
    const int err = ::posix_spawn(&pid, program.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) throw std::runtime_error("cannot start '" + program + "': " + std::strerror(err));
    return pid;
}

ChildExit wait_process(pid_t pid) {
    int status = 0;
    pid_t r;
    do r = ::waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r != pid) throw std::runtime_error("waitpid(" + std::to_string(pid) + ") failed: " + std::strerror(errno));
    ChildExit e;
    e.exited = WIFEXITED(status);
    e.code = e.exited ? WEXITSTATUS(status) : 0;
    e.signalled = WIFSIGNALED(status);
    e.signal = e.signalled ? WTERMSIG(status) : 0;
    return e;
}

ChildExit run_with_timeout(const std::string& program, const std::vector<std::string>& args,
                           const std::string& log_path, double timeout_s) {
    const pid_t pid = spawn_process(program, args, log_path);
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
        // WNOWAIT: leave the child to wait_process, which decodes its status.
        siginfo_t info{};
        if (::waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
            return wait_process(pid);
        ::usleep(5000);
    }
    ::kill(pid, SIGKILL);
    ChildExit e = wait_process(pid);
    e.timed_out = true;
    return e;
}

double run_process(const std::string& program, const std::vector<std::string>& args, const std::string& log_path) {
    const auto t0 = std::chrono::steady_clock::now();
    const ChildExit e = wait_process(spawn_process(program, args, log_path));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!e.exited || e.code != 0) {
        std::string cmd = program;
        for (const auto& a : args) cmd += " " + a;
        throw std::runtime_error("'" + cmd + "' " +
                                 (e.exited ? "exited with status " + std::to_string(e.code)
                                           : "was killed by signal " + std::to_string(e.signal)) +
                                 "; its stderr ends:\n" + file_tail(log_path));
    }
    return s;
}

std::string file_tail(const std::string& path, size_t max_bytes) {
    std::ifstream f(path, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

FolderWatch::FolderWatch(const std::string& folder) : folder_(folder) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error(std::string("inotify_init1 failed: ") + std::strerror(errno));
    if (::inotify_add_watch(fd_, folder.c_str(), IN_CREATE) < 0) {
        const int err = errno;
        ::close(fd_);
        throw std::runtime_error("cannot watch '" + folder + "': " + std::strerror(err));
    }
}

FolderWatch::~FolderWatch() {
    if (fd_ >= 0) ::close(fd_);
}

bool FolderWatch::wait_for_creation(const std::string& part, int nth, double timeout_s, pid_t pid) {
    using clock = std::chrono::steady_clock;
    const auto end = clock::now() + std::chrono::duration<double>(timeout_s);
    int seen = 0;
    bool exited = false;
    alignas(struct inotify_event) char buf[4096];
    while (clock::now() < end) {
        if (!exited) {
            // WNOWAIT: look without reaping, the caller's wait_process does that.
            siginfo_t info;
            std::memset(&info, 0, sizeof info);
            exited = ::waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
        }
        // Wait at most 1 ms for events, to re-check the child now and then; once it has exited,
        // only drain what it created before.
        struct pollfd p = {fd_, POLLIN, 0};
        if (::poll(&p, 1, exited ? 0 : 1) <= 0) {
            if (exited) return false;
            continue;
        }
        const ssize_t n = ::read(fd_, buf, sizeof buf);
        for (ssize_t off = 0; n > 0 && off < n;) {
            const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
            if (ev->len > 0 && std::strstr(ev->name, part.c_str()) && ++seen == nth) return true;
            off += ssize_t(sizeof(struct inotify_event) + ev->len);
        }
    }
    return false;
}

}  // namespace test
}  // namespace dlbhc
