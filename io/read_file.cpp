// io/read_file.cpp -- whole-file reads with a size limit (see read_file.h).
#include "io/read_file.h"

#include <sys/stat.h>

#include "io/file_io.h"

namespace dlbhc {

std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what, uint64_t max_bytes) {
    return InputFile(path, what + " '" + path + "'").read_all(max_bytes);
}

bool is_regular_file(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
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
