// io/path.cpp -- see path.h.
#include "io/path.h"

#include <sys/stat.h>

namespace dlbhc {

std::string folder_part(const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return "";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string parent_folder(const std::string& path) {
    const std::string f = folder_part(path);
    return f.empty() ? "." : f;
}

std::string base_name(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string trim_trailing_slashes(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

std::string join_path(const std::string& dir, const std::string& rel) {
    if (dir.empty() || (!rel.empty() && rel[0] == '/')) return rel;
    if (dir.back() == '/') return dir + rel;
    return dir + "/" + rel;
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

bool is_regular_file(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists_as_file(const std::string& path) { return path_exists(path) && !is_directory(path); }

}  // namespace dlbhc
