// io/read_file.cpp -- whole-file reads with a size limit (see read_file.h).
#include "io/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dlbhc {

namespace {

// Closes the descriptor on every path out of read_file_bytes.
struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what, uint64_t max_bytes) {
    const std::string who = what + " '" + path + "'";
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) throw std::runtime_error(who + ": cannot open: " + std::strerror(errno));
    struct stat st;
    if (::fstat(f.fd, &st) != 0) throw std::runtime_error(who + ": cannot stat: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(who + ": expected a regular file, found something else");
    const uint64_t size = (uint64_t)st.st_size;
    if (size > max_bytes)
        throw std::runtime_error(who + ": file has " + std::to_string(size) + " bytes, more than the limit of " +
                                 std::to_string(max_bytes));
    std::vector<uint8_t> bytes(size);
    size_t done = 0;
    while (done < size) {
        ssize_t r = ::read(f.fd, bytes.data() + done, size - done);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(who + ": read failed at byte " + std::to_string(done) + ": " +
                                     std::strerror(errno));
        }
        if (r == 0)
            throw std::runtime_error(who + ": file ended at byte " + std::to_string(done) + ", expected " +
                                     std::to_string(size) + " bytes (changed while reading?)");
        done += (size_t)r;
    }
    return bytes;
}

bool is_regular_file(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string join_path(const std::string& dir, const std::string& rel) {
    if (dir.empty() || (!rel.empty() && rel[0] == '/')) return rel;
    if (dir.back() == '/') return dir + rel;
    return dir + "/" + rel;
}

}  // namespace dlbhc
