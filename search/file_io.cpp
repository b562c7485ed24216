// search/file_io.cpp -- atomic writes and read-only mappings (see file_io.h).
#include "search/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dlbhc {

static const size_t kBufferBytes = 1 << 20;

static std::string folder_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
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
}

MappedFile::MappedFile(const std::string& path, const std::string& what) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        throw std::runtime_error(what + " '" + path + "': expected a readable file, found the error: " +
                                 std::strerror(err));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw std::runtime_error(what + " '" + path + "': expected a regular file");
    }
    size_ = (size_t)st.st_size;
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            throw std::runtime_error(what + " '" + path + "': mmap failed: " + std::strerror(err));
        }
        data_ = (const unsigned char*)p;
    }
    ::close(fd);  // the mapping stays valid without the descriptor
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
