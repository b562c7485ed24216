// io/file_io.cpp -- opening inputs, atomic writes, read-only mappings and the output-over-input
// check (see file_io.h).
#include "io/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>

#include "io/path.h"

namespace dlbhc {

static const size_t kBufferBytes = 1 << 20;

// ---- What the SIGBUS handler knows: the live mappings and the temporaries in progress ----
//
// Two fixed tables the handler can read without locks or allocation (async-signal-safe): a slot
// is claimed (Free -> Busy) by compare-and-swap, filled, then published (Live); the handler reads
// Live slots only. A slot is retired (Busy, freed, Free) when its mapping or temporary goes away.
namespace {

enum : int { kSlotFree = 0, kSlotBusy = 1, kSlotLive = 2 };

struct Tracked {
    std::atomic<int> state{kSlotFree};
    const unsigned char* begin = nullptr;  // a mapping: its bytes [begin, begin + size)
    size_t size = 0;
    bool folder = false;                   // a temporary: a folder (else a file)
    char* text = nullptr;                  // a mapping: "index file 'x.idx'"; a temporary: its path
};

Tracked g_maps[kMaxTrackedFiles], g_temps[kMaxTrackedFiles];
const char* g_program = "dlbhc";

// The slot now holding the record, or -1 when the table is full (the record is then not kept).
int track(Tracked* table, const std::string& text, const unsigned char* begin, size_t size, bool folder) {
    for (int i = 0; i < kMaxTrackedFiles; ++i) {
        int expect = kSlotFree;
        if (!table[i].state.compare_exchange_strong(expect, kSlotBusy)) continue;
        char* t = new char[text.size() + 1];
        std::memcpy(t, text.c_str(), text.size() + 1);
        table[i].begin = begin, table[i].size = size, table[i].folder = folder, table[i].text = t;
        table[i].state.store(kSlotLive, std::memory_order_release);
        return i;
    }
    return -1;
}

void untrack(Tracked* table, int& slot) {
    if (slot < 0) return;
    table[slot].state.store(kSlotBusy);
    delete[] table[slot].text;
    table[slot].text = nullptr;
    table[slot].state.store(kSlotFree, std::memory_order_release);
    slot = -1;
}

// write(2) of a whole C string to stderr (async-signal-safe).
void say(const char* s) {
    size_t n = std::strlen(s);
    while (n > 0) {
        const ssize_t w = ::write(2, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

// Removes a folder of plain files (the writers' temporary folders are flat) with system calls
// only, so that the SIGBUS handler may call it: getdents64 lists it, unlinkat removes each entry.
void remove_flat_folder_now(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        alignas(8) char buf[4096];
        // Removing entries while listing may skip some: list again until a pass removes nothing.
        for (int pass = 0; pass < 64; ++pass) {
            bool removed = false;
            ::lseek(fd, 0, SEEK_SET);
            long got;
            while ((got = ::syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
                for (long at = 0; at < got;) {
                    const struct dirent64* e = (const struct dirent64*)(buf + at);
                    at += e->d_reclen;
                    const char* n = e->d_name;
                    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
                    removed |= ::unlinkat(fd, n, 0) == 0;
                }
            }
            if (!removed) break;
        }
        ::close(fd);
    }
    ::rmdir(path);
}

// SIGBUS: a read of a mapped file past its end, after another program truncated it in place.
// Only async-signal-safe calls from here on (no allocation, no stdio, no locks).
void on_sigbus(int, siginfo_t* info, void*) {
    const unsigned char* at = (const unsigned char*)info->si_addr;
    const char* file = nullptr;
    for (const Tracked& m : g_maps)
        if (m.state.load(std::memory_order_acquire) == kSlotLive && at >= m.begin && at < m.begin + m.size) {
            file = m.text;
            break;
        }
    if (!file) {  // not one of our mappings: the default action, as without this handler
        ::signal(SIGBUS, SIG_DFL);
        if (info->si_code <= 0) ::raise(SIGBUS);  // sent by kill(): delivered once we return
        return;                                    // a fault: the instruction faults again
    }
    // Files first: a temporary folder's pictures are themselves written through temporaries.
    for (const Tracked& t : g_temps)
        if (t.state.load(std::memory_order_acquire) == kSlotLive && !t.folder) ::unlink(t.text);
    for (const Tracked& t : g_temps)
        if (t.state.load(std::memory_order_acquire) == kSlotLive && t.folder) remove_flat_folder_now(t.text);
    say(g_program);
    say(": error: ");
    say(file);
    say(" was truncated or changed by another program while mapped (read past its end); stopped, and the "
        "outputs in progress were removed\n");
    ::_exit(1);
}

// Test-only hook (tests/apps/test_signals.cpp): DLBHC_TEST_PAUSE=<point>:<file> makes the process,
// right after it maps <file> (point "map") or after it creates any temporary file (point
// "temp"), say so on stderr and wait until <file> is empty or gone (at most 20 s), so that a test
// can truncate a mapped file at a known point. Unset (always, outside tests), it costs a getenv.
void test_pause(const char* point, const std::string& path) {
    const char* spec = std::getenv("DLBHC_TEST_PAUSE");
    if (!spec) return;
    const std::string s = spec, head = std::string(point) + ":";
    if (s.compare(0, head.size(), head) != 0) return;
    const std::string file = s.substr(head.size());
    if (std::strcmp(point, "map") == 0 && path != file) return;
    std::fprintf(stderr, "test pause: %s '%s'\n", point, path.c_str());
    std::fflush(stderr);
    struct stat st;
    for (int i = 0; i < 4000 && ::stat(file.c_str(), &st) == 0 && st.st_size > 0; ++i) ::usleep(5000);
}

}  // namespace

void install_file_signal_handlers(const char* program) {
    g_program = program;
    ::signal(SIGXFSZ, SIG_IGN);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, nullptr);
}

// "." kind "." pid "." n: the tail of every temporary name the writers make ("tmp", "old").
static std::string temp_tail(const char* kind, long pid, unsigned n) {
    return std::string(".") + kind + "." + std::to_string(pid) + "." + std::to_string(n);
}

size_t temp_name_extra_bytes(bool folder) {
    // The widest pid (pid_t is an int) and counter (unsigned); a folder's name also gains a
    // leading "." (see sibling_name).
    return (folder ? 1 : 0) + temp_tail("tmp", (long)INT_MAX, UINT_MAX).size();
}

// Parses a decimal number of 1 to 10 digits filling s[from, to); false if anything else is there
// or it exceeds `max`.
static bool parse_decimal(const char* s, size_t from, size_t to, long long max, long long& out) {
    if (to <= from || to - from > 10) return false;
    long long v = 0;
    for (size_t i = from; i < to; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) return false;
    out = v;
    return true;
}

// The pid of a name "<prefix><pid>.<n>" (e.g. prefix "<base>.tmp."), or 0 if `name` is not such
// a name.
static pid_t temp_owner(const char* name, const std::string& prefix) {
    if (std::strncmp(name, prefix.c_str(), prefix.size()) != 0) return 0;
    const size_t len = std::strlen(name);
    const char* dot = std::strchr(name + prefix.size(), '.');
    if (!dot) return 0;
    const size_t dot_at = (size_t)(dot - name);
    long long pid = 0, n = 0;
    // pid: a positive pid_t; n: the writer's unsigned counter.
    if (!parse_decimal(name, prefix.size(), dot_at, INT_MAX, pid) || !parse_decimal(name, dot_at + 1, len, UINT_MAX, n))
        return 0;
    return pid > 0 ? (pid_t)pid : 0;
}

// The paths of the entries of `folder` named "<prefix><pid>.<n>" for one of `prefixes` whose pid
// names neither a live process nor this one (a reused pid keeps its entry until it is free).
static std::vector<std::string> stale_entries(const std::string& folder, const std::vector<std::string>& prefixes) {
    std::vector<std::string> stale;
    DIR* d = ::opendir(folder.c_str());
    if (!d) return stale;
    // Collect first, remove after: removing entries while readdir walks the folder is allowed but
    // may skip or repeat names.
    const pid_t self = ::getpid();
    while (const struct dirent* e = ::readdir(d)) {
        for (const auto& prefix : prefixes) {
            const pid_t owner = temp_owner(e->d_name, prefix);
            if (owner == 0 || owner == self) continue;
            if (::kill(owner, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to signal: EPERM)
            stale.push_back(folder + "/" + e->d_name);
            break;
        }
    }
    ::closedir(d);
    return stale;
}

size_t remove_stale_temporaries(const std::string& path) {
    const std::string base = base_name(path);
    if (base.empty()) return 0;
    size_t removed = 0;
    for (const auto& f : stale_entries(parent_folder(path), {base + ".tmp."})) removed += ::unlink(f.c_str()) == 0;
    return removed;
}

std::string file_kind(unsigned mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFLNK: return "a symbolic link";
    default: return "an unknown kind of file";
    }
}

InputFile::InputFile(const std::string& path, const std::string& who) : who_(who) {
    // O_NONBLOCK: an open() of a FIFO would otherwise wait for a writer; O_NOCTTY: a terminal
    // given by mistake must not become our controlling terminal.
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd_ < 0) throw std::runtime_error(who_ + ": cannot open: " + std::strerror(errno));
    struct stat st;
    std::string error;
    if (::fstat(fd_, &st) != 0) error = std::string("cannot stat: ") + std::strerror(errno);
    else if (!S_ISREG(st.st_mode)) error = "expected a regular file, found " + file_kind(st.st_mode);
    else if (::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK) != 0)
        error = std::string("cannot clear O_NONBLOCK: ") + std::strerror(errno);
    if (!error.empty()) {
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error(who_ + ": " + error);
    }
    size_ = (uint64_t)st.st_size;
}

InputFile::~InputFile() {
    if (fd_ >= 0) ::close(fd_);
}

InputFile::InputFile(InputFile&& o) noexcept : who_(std::move(o.who_)), fd_(o.fd_), size_(o.size_) { o.fd_ = -1; }

size_t InputFile::read(void* p, size_t n) {
    size_t done = 0;
    while (done < n) {
        const ssize_t r = ::read(fd_, (char*)p + done, n - done);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(who_ + ": read failed: " + std::strerror(errno));
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    return done;
}

std::vector<uint8_t> InputFile::read_all(uint64_t max_bytes) {
    if (size_ > max_bytes)
        throw std::runtime_error(who_ + ": file has " + std::to_string(size_) + " bytes, more than the limit of " +
                                 std::to_string(max_bytes));
    std::vector<uint8_t> bytes((size_t)size_);
    const size_t got = read(bytes.data(), bytes.size());
    if (got != bytes.size())
        throw std::runtime_error(who_ + ": file ended at byte " + std::to_string(got) + ", expected " +
                                 std::to_string(size_) + " bytes (changed while reading?)");
    return bytes;
}

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa, sb;
    if (a.empty() || b.empty() || ::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void refuse_overwriting_inputs(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
    struct Id {
        dev_t dev;
        ino_t ino;
        bool exists;
    };
    auto id_of = [](const std::string& p) {
        struct stat st;
        if (p.empty() || ::stat(p.c_str(), &st) != 0) return Id{0, 0, false};
        return Id{st.st_dev, st.st_ino, true};
    };
    std::vector<Id> outs;
    bool any = false;
    for (const NamedPath& out : outputs) outs.push_back(id_of(out.path)), any |= outs.back().exists;
    if (!any) return;  // nothing to overwrite yet: the inputs need not be looked at
    std::vector<Id> ins;
    ins.reserve(inputs.size());
    for (const NamedPath& in : inputs) ins.push_back(id_of(in.path));
    for (size_t o = 0; o < outputs.size(); ++o)
        for (size_t i = 0; i < inputs.size() && outs[o].exists; ++i)
            if (ins[i].exists && ins[i].dev == outs[o].dev && ins[i].ino == outs[o].ino)
                throw std::invalid_argument(outputs[o].label + " " + outputs[o].path + " is the same file as " +
                                            inputs[i].label + " " + inputs[i].path + "; refusing to overwrite an input");
}

namespace {

// realpath() of `path` as a string, "" when it cannot be resolved (missing).
std::string real_path(const std::string& path) {
    char* p = ::realpath(path.c_str(), nullptr);
    if (!p) return "";
    std::string r(p);
    std::free(p);
    return r;
}

// realpath() of `path`, resolving its folder once per folder (`folders` caches them): a dataset's
// images share a few folders, and a full realpath() examines every component of every path.
// "" when it cannot be resolved.
std::string real_path_cached(const std::string& path, std::map<std::string, std::string>& folders) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return "";
    const std::string base = base_name(path);
    if (S_ISLNK(st.st_mode) || base.empty() || base == "." || base == "..") return real_path(path);
    const std::string folder = parent_folder(path);
    auto it = folders.find(folder);
    if (it == folders.end()) it = folders.emplace(folder, real_path(folder)).first;
    if (it->second.empty()) return "";
    return it->second == "/" ? "/" + base : it->second + "/" + base;
}

}  // namespace

void refuse_inputs_inside_folder(const NamedPath& folder, const std::vector<NamedPath>& inputs) {
    if (folder.path.empty()) return;
    const std::string dir = real_path(folder.path);
    if (dir.empty()) return;  // no folder yet: nothing inside it
    const std::string prefix = dir == "/" ? dir : dir + "/";
    std::map<std::string, std::string> folders;
    for (const NamedPath& in : inputs) {
        if (in.path.empty()) continue;
        const std::string p = real_path_cached(in.path, folders);
        if (p.empty()) continue;  // a missing input is reported by whoever reads it
        if (p.compare(0, prefix.size(), prefix) == 0)
            throw std::invalid_argument(in.label + " " + in.path + " lies inside " + folder.label + " " + folder.path +
                                        ", which is replaced as a whole; refusing to delete an input");
    }
}

std::string output_target(const std::string& path) {
    std::string p = path;
    for (int hops = 0; hops <= 40; ++hops) {
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
        char link[PATH_MAX];
        const ssize_t n = ::readlink(p.c_str(), link, sizeof link);
        if (n <= 0 || size_t(n) >= sizeof link) return p;  // unreadable: the writer's own error says why
        const std::string to(link, size_t(n));
        p = to[0] == '/' ? to : parent_folder(p) + "/" + to;
    }
    throw std::runtime_error("'" + path + "': expected a symbolic link that ends at a file, found a chain of more than 40 "
                             "links (a loop?)");
}

std::vector<std::string> make_parent_folders(const std::string& path) {
    std::vector<std::string> made;
    const std::string dir = parent_folder(path);
    if (dir == "." || dir == "/") return made;
    for (size_t i = 1; i <= dir.size(); ++i) {
        if (i < dir.size() && dir[i] != '/') continue;
        const std::string part = dir.substr(0, i);
        if (::mkdir(part.c_str(), 0777) == 0) {
            made.push_back(part);
        } else if (errno != EEXIST) {
            const int err = errno;
            remove_made_folders(made);
            throw std::runtime_error("cannot create folder '" + part + "': " + std::strerror(err));
        }
    }
    return made;
}

void remove_made_folders(const std::vector<std::string>& made) {
    for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
}

static void fsync_folder(const std::string& folder) {
    int dfd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

AtomicFileWriter::AtomicFileWriter(const std::string& path, const std::string& what) : path_(path), what_(what) {
    static std::atomic<unsigned> counter{0};
    try {
        target_ = output_target(path);
        made_folders_ = make_parent_folders(target_);
    } catch (const std::exception& e) {
        throw std::runtime_error(what_ + " '" + path_ + "': " + e.what());
    }
    tmp_ = target_ + temp_tail("tmp", (long)getpid(), counter++);
    fd_ = ::open(tmp_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);  // read_at
    if (fd_ < 0) {
        int err = errno;
        remove_made_folders(made_folders_);
        throw std::runtime_error(what_ + " '" + path_ + "': expected to create the temporary file '" + tmp_ +
                                 "', found the error: " + std::strerror(err));
    }
    tracked_ = track(g_temps, tmp_, nullptr, 0, false);
    buf_.reserve(kBufferBytes);
    test_pause("temp", tmp_);
}

AtomicFileWriter::~AtomicFileWriter() {
    if (state_ != State::Done) abandon();
}

// Removes what this writer made (its temporary file, the folders it made) and leaves the target
// as it was.
void AtomicFileWriter::abandon() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_.c_str());
    untrack(g_temps, tracked_);
    remove_made_folders(made_folders_);
    made_folders_.clear();
    state_ = State::Done;
}

void AtomicFileWriter::fail(const std::string& doing, int err) {
    abandon();
    throw std::runtime_error(what_ + " '" + path_ + "': " + doing + " failed: " + std::strerror(err) +
                             " (the previous file, if any, is unchanged)");
}

void AtomicFileWriter::flush() {
    const char* p = buf_.data();
    size_t n = buf_.size();
    while (n > 0) {
        ssize_t w = ::write(fd_, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            fail("writing '" + tmp_ + "'", errno);
        }
        p += w;
        n -= (size_t)w;
        written_ += (uint64_t)w;
    }
    buf_.clear();
}

void AtomicFileWriter::write(const void* p, size_t n) {
    if (state_ != State::Writing) throw std::logic_error("AtomicFileWriter::write after commit or failure");
    const char* c = (const char*)p;
    while (n > 0) {
        size_t take = std::min(n, kBufferBytes - buf_.size());
        buf_.insert(buf_.end(), c, c + take);
        c += take;
        n -= take;
        if (buf_.size() == kBufferBytes) flush();
    }
}

void AtomicFileWriter::write_at(uint64_t offset, const void* p, size_t n) {
    if (state_ != State::Writing) throw std::logic_error("AtomicFileWriter::write_at after commit or failure");
    flush();
    const char* c = (const char*)p;
    while (n > 0) {
        ssize_t w = ::pwrite(fd_, c, n, (off_t)offset);
        if (w < 0) {
            if (errno == EINTR) continue;
            fail("writing '" + tmp_ + "'", errno);
        }
        c += w;
        n -= (size_t)w;
        offset += (uint64_t)w;
    }
}

void AtomicFileWriter::read_at(uint64_t offset, void* p, size_t n) {
    if (state_ != State::Writing) throw std::logic_error("AtomicFileWriter::read_at after commit or failure");
    flush();
    char* c = (char*)p;
    while (n > 0) {
        ssize_t r = ::pread(fd_, c, n, (off_t)offset);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) fail("reading back '" + tmp_ + "'", errno);
        if (r == 0) fail("reading back '" + tmp_ + "'", EIO);  // shorter than written: changed by someone else
        c += r;
        n -= (size_t)r;
        offset += (uint64_t)r;
    }
}

void AtomicFileWriter::commit() {
    prepare();
    publish();
}

void AtomicFileWriter::prepare() {
    if (state_ != State::Writing) throw std::logic_error("AtomicFileWriter::prepare after commit or failure");
    flush();
    if (::fsync(fd_) != 0) fail("fsync of '" + tmp_ + "'", errno);
    const int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) fail("closing '" + tmp_ + "'", errno);
    state_ = State::Prepared;
}

void AtomicFileWriter::publish() {
    if (state_ != State::Prepared) throw std::logic_error("AtomicFileWriter::publish without prepare");
    if (::rename(tmp_.c_str(), target_.c_str()) != 0) fail("renaming '" + tmp_ + "' to the target", errno);
    untrack(g_temps, tracked_);  // only now: until the rename, the temporary is ours to remove
    state_ = State::Done;
    made_folders_.clear();  // they hold the output now
    fsync_folder(parent_folder(target_));  // make the rename itself durable
    remove_stale_temporaries(target_);
}

void commit_all(const std::vector<AtomicFileWriter*>& writers) {
    for (AtomicFileWriter* w : writers) w->prepare();
    for (AtomicFileWriter* w : writers) w->publish();
}

// ---- AtomicDirWriter ----

static int remove_one(const char* p, const struct stat*, int, struct FTW*) {
    ::remove(p);  // best effort: carry on with the rest
    return 0;
}

// Removes a file, or a folder with everything in it; never follows a symbolic link (it removes
// the link). True when nothing is left at `path`.
static bool remove_tree(const std::string& path) {
    ::nftw(path.c_str(), remove_one, 16, FTW_DEPTH | FTW_PHYS);
    struct stat st;
    return ::lstat(path.c_str(), &st) != 0 && errno == ENOENT;
}

static bool ends_with(const std::string& s, const std::string& end) {
    return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

// fsyncs every regular file directly in `folder` (the writers' files are flat), then the folder.
// Returns 0, or the first error with `failed` naming what failed.
static int fsync_folder_files(const std::string& folder, std::string& failed) {
    DIR* d = ::opendir(folder.c_str());
    if (!d) {
        failed = folder;
        return errno;
    }
    int err = 0;
    while (const struct dirent* e = ::readdir(d)) {
        struct stat st;
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        const std::string f = folder + "/" + e->d_name;
        const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::fsync(fd) != 0) err = errno;
        if (fd >= 0) ::close(fd);
        if (err) {
            failed = f;
            break;
        }
    }
    ::closedir(d);
    if (err) return err;
    const int dfd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) err = errno;
    if (dfd >= 0) ::close(dfd);
    if (err) failed = folder;
    return err;
}

// The hidden name beside `path` for a folder in the `kind` state ("tmp", "old") of this process.
static std::string sibling_name(const std::string& path, const char* kind) {
    static std::atomic<unsigned> counter{0};
    return parent_folder(path) + "/." + base_name(path) + temp_tail(kind, (long)::getpid(), counter++);
}

size_t remove_stale_temporary_dirs(const std::string& path) {
    const std::string p = trim_trailing_slashes(path), base = base_name(p);
    if (base.empty()) return 0;
    size_t removed = 0;
    for (const auto& f : stale_entries(parent_folder(p), {"." + base + ".tmp.", "." + base + ".old."})) removed += remove_tree(f);
    return removed;
}

AtomicDirWriter::AtomicDirWriter(const std::string& path, const std::string& what, std::vector<std::string> owned_suffixes)
    : path_(trim_trailing_slashes(path)), what_(what), suffixes_(std::move(owned_suffixes)) {
    const std::string base = base_name(path_);
    if (base.empty() || base == "." || base == "..")
        throw std::runtime_error(what_ + " '" + path + "': expected the path of a folder ending with its name, found '" +
                                 base + "'");
    check_replaceable();
    try {
        made_folders_ = make_parent_folders(path_);
    } catch (const std::exception& e) {
        throw std::runtime_error(what_ + " '" + path_ + "': " + e.what());
    }
    // A name of this pid may be taken by a dead process of the same pid (or by a test): next one.
    int err = EEXIST;
    for (int attempt = 0; attempt < 100 && err == EEXIST; ++attempt) {
        tmp_ = sibling_name(path_, "tmp");
        err = ::mkdir(tmp_.c_str(), 0777) == 0 ? 0 : errno;
    }
    if (err) {
        remove_made_folders(made_folders_);
        throw std::runtime_error(what_ + " '" + path_ + "': expected to create the temporary folder '" + tmp_ +
                                 "', found the error: " + std::strerror(err));
    }
    tracked_ = track(g_temps, tmp_, nullptr, 0, true);
}

AtomicDirWriter::~AtomicDirWriter() {
    if (!done_) remove_temp();
}

// Removes what this writer made (its temporary folder, the folders it made for the target).
void AtomicDirWriter::remove_temp() {
    remove_tree(tmp_);
    untrack(g_temps, tracked_);
    remove_made_folders(made_folders_);
    made_folders_.clear();
    done_ = true;
}

void AtomicDirWriter::fail(const std::string& doing, int err) {
    remove_temp();
    throw std::runtime_error(what_ + " '" + path_ + "': " + doing + " failed: " + std::strerror(err) +
                             " (the previous folder, if any, is unchanged)");
}

// An existing target is deleted by commit(): only a folder holding nothing but files this kind
// of output has may go (so that "--dump ." or "--dump ~" is refused, not wiped).
void AtomicDirWriter::check_replaceable() const { check_folder_replaceable(path_, what_, suffixes_); }

void check_folder_replaceable(const std::string& path, const std::string& what,
                              const std::vector<std::string>& suffixes) {
    const std::string p = trim_trailing_slashes(path);
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        int err = errno;
        throw std::runtime_error(what + " '" + p + "': cannot examine it: " + std::strerror(err));
    }
    if (!S_ISDIR(st.st_mode))
        throw std::runtime_error(what + " '" + p + "': expected a folder to replace, found " +
                                 (S_ISLNK(st.st_mode) ? "a symbolic link" : "a file") + "; remove it or choose another name");
    std::string expected = "files";
    for (size_t i = 0; i < suffixes.size(); ++i) expected += std::string(i ? ", " : " named *") + suffixes[i];
    DIR* d = ::opendir(p.c_str());
    if (!d) {
        int err = errno;
        throw std::runtime_error(what + " '" + p + "': cannot read the existing folder: " + std::strerror(err));
    }
    std::string intruder;
    while (const struct dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        const bool known = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0;
        bool ok = known && S_ISREG(st.st_mode);
        if (ok && !suffixes.empty())
            ok = std::any_of(suffixes.begin(), suffixes.end(), [&](const std::string& x) { return ends_with(name, x); });
        if (!ok) {
            intruder = name + (known && S_ISDIR(st.st_mode) ? " (a folder)" : "");
            break;
        }
    }
    ::closedir(d);
    if (!intruder.empty())
        throw std::runtime_error(what + " '" + p + "': the folder exists and is replaced as a whole, so it may hold only " +
                                 expected + "; found '" + intruder + "'. Move that away or choose another folder");
}

void AtomicDirWriter::commit() {
    if (done_) throw std::logic_error("AtomicDirWriter::commit after commit or failure");
    // Every file and the folder itself reach the disk before any rename: after a crash, `path` is
    // either the old folder or the complete new one.
    std::string failed;
    if (int err = fsync_folder_files(tmp_, failed)) fail("fsync of '" + failed + "'", err);
    try {
        check_replaceable();  // again: the folder may have changed while the output was written
    } catch (...) {
        remove_temp();
        throw;
    }
    std::string old = sibling_name(path_, "old");
    struct stat st;
    for (int attempt = 0; attempt < 100 && ::lstat(old.c_str(), &st) == 0; ++attempt) old = sibling_name(path_, "old");
    bool had_old = ::rename(path_.c_str(), old.c_str()) == 0;
    if (!had_old && errno != ENOENT) fail("moving the previous folder away to '" + old + "'", errno);
    // A crash right here, between the two renames, leaves nothing at `path`, but nothing is torn
    // or lost: the previous folder is whole in `old` and the new one whole in `tmp_`, both beside
    // `path` under hidden names. Either can be renamed back by hand; the next successful commit for
    // `path` removes both as stale (their pid is dead). (Linux's renameat2(RENAME_EXCHANGE) would
    // swap the two in one step, but not every file system supports it.)
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
        const int err = errno;
        if (had_old) ::rename(old.c_str(), path_.c_str());  // put the previous folder back
        fail("renaming '" + tmp_ + "' to the target", err);
    }
    done_ = true;
    made_folders_.clear();  // they hold the output now
    untrack(g_temps, tracked_);
    fsync_folder(parent_folder(path_));  // make the renames durable
    if (had_old) remove_tree(old);
    remove_stale_temporary_dirs(path_);
}

MappedFile::MappedFile(const std::string& path, const std::string& what) {
    InputFile in(path, what + " '" + path + "'");
    size_ = (size_t)in.size();
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, in.fd(), 0);
        if (p == MAP_FAILED) {
            int err = errno;
            throw std::runtime_error(what + " '" + path + "': mmap failed: " + std::strerror(err));
        }
        data_ = (const unsigned char*)p;
        tracked_ = track(g_maps, what + " '" + path + "'", data_, size_, false);
    }
    // The mapping stays valid after `in` closes the descriptor.
    test_pause("map", path);
}

void MappedFile::drop_resident(const void* p, size_t n) const {
    static const uintptr_t page = (uintptr_t)::sysconf(_SC_PAGESIZE);
    // Both ends rounded down: the pieces of a pass in order then let go of every page once.
    const uintptr_t from = (uintptr_t)p / page * page, to = ((uintptr_t)p + n) / page * page;
    if (!data_ || to <= from || from < (uintptr_t)data_ || to > (uintptr_t)data_ + size_) return;
    ::madvise((void*)from, to - from, MADV_DONTNEED);
}

void MappedFile::release() {
    untrack(g_maps, tracked_);  // before the range can be mapped again for something else
    if (data_) ::munmap((void*)data_, size_);
    data_ = nullptr;
    size_ = 0;
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_), tracked_(o.tracked_) {
    o.data_ = nullptr;
    o.size_ = 0;
    o.tracked_ = -1;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        release();
        data_ = o.data_;
        size_ = o.size_;
        tracked_ = o.tracked_;
        o.data_ = nullptr;
        o.size_ = 0;
        o.tracked_ = -1;
    }
    return *this;
}

}  // namespace dlbhc
