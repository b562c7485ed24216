// io/file_io.cpp -- opening inputs, atomic writes, read-only mappings and the output-over-input
// check (see file_io.h).
#include "io/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>

namespace dlbhc {

static const size_t kBufferBytes = 1 << 20;

static std::string folder_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

static std::string base_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
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

// The pid of a name "<base>.tmp.<pid>.<n>", or 0 if `name` is not such a temporary of `base`.
static pid_t temp_owner(const char* name, const std::string& base) {
    const std::string prefix = base + ".tmp.";
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

size_t remove_stale_temporaries(const std::string& path) {
    const std::string folder = folder_of(path), base = base_of(path);
    if (base.empty()) return 0;
    DIR* d = ::opendir(folder.c_str());
    if (!d) return 0;
    // Collect first, unlink after: removing entries while readdir walks the folder is allowed but
    // may skip or repeat names.
    std::vector<std::string> stale;
    const pid_t self = ::getpid();
    while (const struct dirent* e = ::readdir(d)) {
        const pid_t owner = temp_owner(e->d_name, base);
        if (owner == 0 || owner == self) continue;
        if (::kill(owner, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to signal: EPERM)
        stale.push_back(folder + "/" + e->d_name);
    }
    ::closedir(d);
    size_t removed = 0;
    for (const auto& f : stale) removed += ::unlink(f.c_str()) == 0;
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
    for (const NamedPath& out : outputs)
        for (const NamedPath& in : inputs)
            if (same_file(out.path, in.path))
                throw std::invalid_argument(out.label + " " + out.path + " is the same file as " + in.label + " " +
                                            in.path + "; refusing to overwrite an input");
}

AtomicFileWriter::AtomicFileWriter(const std::string& path, const std::string& what) : path_(path), what_(what) {
    static std::atomic<unsigned> counter{0};
    tmp_ = path + ".tmp." + std::to_string((long)getpid()) + "." + std::to_string(counter++);
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        int err = errno;
        throw std::runtime_error(what_ + " '" + path_ + "': expected to create the temporary file '" + tmp_ +
                                 "', found the error: " + std::strerror(err));
    }
    buf_.reserve(kBufferBytes);
}

AtomicFileWriter::~AtomicFileWriter() {
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlink(tmp_.c_str());
    }
}

void AtomicFileWriter::fail(const std::string& doing, int err) {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    ::unlink(tmp_.c_str());
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
    if (fd_ < 0) throw std::logic_error("AtomicFileWriter::write after commit or failure");
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

void AtomicFileWriter::commit() {
    flush();
    if (::fsync(fd_) != 0) fail("fsync of '" + tmp_ + "'", errno);
    if (::close(fd_) != 0) {
        fd_ = -1;
        fail("closing '" + tmp_ + "'", errno);
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("renaming '" + tmp_ + "' to the target", errno);
    // Make the rename itself durable.
    int dfd = ::open(folder_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    remove_stale_temporaries(path_);
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
    }
    // The mapping stays valid after `in` closes the descriptor.
}

void MappedFile::release() {
    if (data_) ::munmap((void*)data_, size_);
    data_ = nullptr;
    size_ = 0;
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        release();
        data_ = o.data_;
        size_ = o.size_;
        o.data_ = nullptr;
        o.size_ = 0;
    }
    return *this;
}

}  // namespace dlbhc
