// apps/args.cpp
#include <cmath>
#include "apps/args.h"

#include "io/file_io.h"
#include "io/path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace dlbhc {

Args::Args(const std::vector<std::string>& argv, const std::vector<std::string>& options,
           const std::vector<std::string>& flags, const std::vector<std::string>& repeatable) {
    auto known = [](const std::vector<std::string>& v, const std::string& s) {
        return std::find(v.begin(), v.end(), s) != v.end();
    };
    // A repeated option is refused rather than letting the last one win silently: "--out a
    // --out b" more likely lost a word than meant b.
    auto set = [&](const std::string& name, const std::string& value) {
        all_values_[name].push_back(value);
        if (!values_.emplace(name, value).second && !known(repeatable, name))
            throw std::invalid_argument("--" + name + " is given twice; give it once");
    };
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
            positional_.push_back(a);
            continue;
        }
        std::string name = a.substr(2);
        if (known(flags, name)) {
            set(name, "1");
        } else if (known(options, name)) {
            if (i + 1 >= argv.size()) throw std::invalid_argument("option --" + name + " needs a value");
            const std::string& v = argv[++i];
            // "--out --no-features": the value was forgotten, and the next option would be taken
            // as a file name. "--" and "-1" stay values; a file named "--x" is "./--x".
            if (v.size() > 2 && v.compare(0, 2, "--") == 0 && std::isalpha((unsigned char)v[2])) {
                const std::string next = v.substr(2);
                if (known(options, next) || known(flags, next))
                    throw std::invalid_argument("--" + name + " expects a value, found the option " + v);
                throw std::invalid_argument("--" + name + " expects a value, found '" + v +
                                            "', which looks like an option (a file of that name can be given as ./" + v +
                                            ")");
            }
            set(name, v);
        } else {
            std::string list;
            for (const auto& o : options) list += " --" + o;
            for (const auto& f : flags) list += " --" + f;
            throw std::invalid_argument("unknown option " + a + " (accepted:" + list + ")");
        }
    }
}

std::string Args::get(const std::string& name, const std::string& def) const {
    auto it = values_.find(name);
    return it == values_.end() ? def : it->second;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
    auto it = all_values_.find(name);
    return it == all_values_.end() ? std::vector<std::string>() : it->second;
}

int Args::get_int(const std::string& name, int def) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    // An optional '-' and digits: std::stoi alone would also take " 5" and "+5".
    const std::string& t = it->second;
    size_t pos = 0;
    int v = 0;
    const bool form = t.find_first_not_of("0123456789", t.compare(0, 1, "-") == 0 ? 1 : 0) == std::string::npos;
    try {
        if (form) v = std::stoi(t, &pos);
    } catch (const std::exception&) {
        pos = 0;
    }
    if (!form || pos != t.size() || t.empty())
        throw std::invalid_argument("option --" + name + " expects an integer, got '" + it->second + "'");
    return v;
}

int Args::get_int_in(const std::string& name, int def, int lo, int hi) const {
    if (!has(name)) return def;
    const int v = get_int(name, def);
    if (v < lo || v > hi) {
        const std::string range =
            hi == INT_MAX ? ">= " + std::to_string(lo) : "from " + std::to_string(lo) + " to " + std::to_string(hi);
        throw std::invalid_argument("option --" + name + " expects an integer " + range + ", got '" + get(name, "") + "'");
    }
    return v;
}

}  // namespace dlbhc

namespace dlbhc {

double Args::get_double(const std::string& name, double def) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    size_t pos = 0;
    double v = 0;
    try {
        v = std::stod(it->second, &pos);
    } catch (const std::exception&) {
        pos = 0;
    }
    if (pos != it->second.size() || it->second.empty() || !std::isfinite(v))
        throw std::invalid_argument("option --" + name + " expects a number, got '" + it->second + "'");
    return v;
}

}  // namespace dlbhc

namespace dlbhc {

void Args::expect_no_positional() const {
    if (!positional_.empty())
        throw std::invalid_argument("unexpected argument '" + positional_[0] + "' (options start with --; see --help)");
}

bool print_help(const Args& a, std::initializer_list<const char*> texts) {
    if (!a.has("help")) return false;
    for (const char* t : texts) std::fputs(t, stdout);
    return true;
}

void Args::require(std::initializer_list<const char*> names) const {
    for (const char* n : names)
        if (!has(n)) throw std::invalid_argument(std::string("--") + n + " is required (see --help)");
}

}  // namespace dlbhc

namespace dlbhc {

namespace {

// "" when this process can create a file in the existing folder `dir`, else why not. Tries what
// the atomic writer will do (create a file there) rather than trusting permission bits, which
// say nothing for root, read-only mounts or /proc. An unnamed temporary file (O_TMPFILE) leaves
// nothing behind; where the file system lacks them, a named one is removed at once.
std::string cannot_create_in(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY, 0600);
    if (fd >= 0) {
        ::close(fd);
        return "";
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return std::strerror(errno);
    std::string probe = dir + "/.dlbhc-write-test-XXXXXX";
    fd = ::mkstemp(&probe[0]);
    if (fd < 0) return std::strerror(errno);
    ::close(fd);
    ::unlink(probe.c_str());
    return "";
}

// A long text for an error message: its start, "..." and its end.
std::string shortened(const std::string& s) { return s.size() <= 100 ? s : s.substr(0, 50) + "..." + s.substr(s.size() - 30); }

// The nearest folder at or above `dir` that exists (the folders below it are made at write time).
std::string nearest_existing(const std::string& dir, struct stat& st, const std::string& where) {
    std::string d = dir;
    while (::stat(d.c_str(), &st) != 0) {
        const int err = errno;
        const std::string up = parent_folder(d);
        if ((err != ENOENT && err != ENOTDIR && err != ENAMETOOLONG) || up == d)  // "." or "/" itself
            throw std::invalid_argument(where + "cannot look at folder '" + shortened(d) + "' (" + std::strerror(err) + ")");
        d = up;
    }
    return d;
}

// A limit of the file system holding `dir` (pathconf), or `fallback` when it names none.
size_t path_limit(const std::string& dir, int name, long fallback, const std::string& where) {
    struct stat st;
    const long v = ::pathconf(nearest_existing(dir, st, where).c_str(), name);
    return size_t(v > 0 ? v : fallback);
}

// Throws when a name the writers will make from `path` does not fit the file system, before
// anything is made: every component of `path` within NAME_MAX (the missing folders are made at
// write time), the last one also with the `last_extra` bytes of the writer's temporary name
// `temp_form` (io/file_io.h temp_name_extra_bytes), and the whole path with `path_extra` bytes
// and its terminating zero within PATH_MAX. Otherwise the command would do its work (train to its
// first snapshot, encode a dataset) and only then fail to create the file, losing the work.
void check_name_lengths(const std::string& path, size_t last_extra, const char* temp_form, size_t path_extra,
                        const std::string& what) {
    const std::string where = what + " '" + shortened(path) + "': ";
    const size_t name_max = path_limit(parent_folder(path), _PC_NAME_MAX, NAME_MAX, where);
    const size_t path_max = path_limit(parent_folder(path), _PC_PATH_MAX, PATH_MAX, where);
    for (size_t from = 0; from < path.size();) {
        const size_t end = std::min(path.find('/', from), path.size());
        const std::string part = path.substr(from, end - from);
        const size_t extra = end == path.size() ? last_extra : 0;
        if (part.size() + extra > name_max) {
            const std::string with = extra ? "with the " + std::to_string(extra) + " bytes its temporary name " +
                                                 temp_form + " adds, it "
                                           : "it ";
            throw std::invalid_argument(where + "the name '" + shortened(part) + "' has " + std::to_string(part.size()) +
                                        " bytes; " + with + "must fit in " + std::to_string(name_max) +
                                        " bytes (NAME_MAX): choose a name of at most " +
                                        std::to_string(name_max - extra) + " bytes");
        }
        from = end + 1;
    }
    if (path.size() + path_extra + 1 > path_max)
        throw std::invalid_argument(where + "the path has " + std::to_string(path.size()) + " bytes; with the " +
                                    std::to_string(path_extra) + " bytes the writer adds (temporary names) it must " +
                                    "stay below " + std::to_string(path_max) + " bytes (PATH_MAX)");
}

// Walks up from `dir` to the nearest folder that exists (the folders below it are made at write
// time) and checks that files can be created in it. `where` starts each error message.
void check_creatable(const std::string& dir, const std::string& where) {
    struct stat st;
    const std::string d = nearest_existing(dir, st, where);
    if (!S_ISDIR(st.st_mode))
        throw std::invalid_argument(where + "expected '" + d + "' to be a folder, found a file");
    const std::string why = cannot_create_in(d);
    if (!why.empty()) throw std::invalid_argument(where + "cannot create files in folder '" + d + "' (" + why + ")");
}


}  // namespace

void check_output_path(const std::string& path, const std::string& what) {
    const std::string where = what + " '" + path + "': ";
    if (path.empty()) throw std::invalid_argument(what + ": expected a file name, found an empty one");
    if (path.back() == '/') throw std::invalid_argument(where + "expected a file name, found a folder name (ends with '/')");
    // A symbolic link is written through (io/file_io.h): what counts is the file it names.
    std::string target;
    try {
        target = output_target(path);
    } catch (const std::exception&) {
        throw std::invalid_argument(where + "expected a file name, found a loop of symbolic links");
    }
    check_name_lengths(target, temp_name_extra_bytes(false), "<name>.tmp.<pid>.<n>", temp_name_extra_bytes(false), what);
    struct stat st;
    if (::stat(target.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode))
            throw std::invalid_argument(where + "expected a file name, found an existing folder (give a file inside it, e.g. '" +
                                        path + "/" + "name')");
        if (!S_ISREG(st.st_mode))
            throw std::invalid_argument(where + "expected a regular file or a new name, found a device, pipe or socket "
                                                "(outputs are written to a temporary file renamed over the path)");
    } else if (errno != ENOENT && errno != ENOTDIR) {
        throw std::invalid_argument(where + "cannot look at it (" + std::strerror(errno) + ")");
    }
    check_creatable(parent_folder(target), where);
}

void check_output_folder(const std::string& path, const std::string& what) {
    const std::string where = what + " '" + path + "': ";
    if (path.empty()) throw std::invalid_argument(what + ": expected a folder name, found an empty one");
    check_name_lengths(path, 0, "", 0, what);  // the names of its files are checked with them
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        check_creatable(parent_folder(path), where);
        return;
    }
    if (!S_ISDIR(st.st_mode)) throw std::invalid_argument(where + "expected a folder, found a file");
    const std::string why = cannot_create_in(path);
    if (!why.empty()) throw std::invalid_argument(where + "cannot create files in it (" + why + ")");
}

std::string canonical_output(const std::string& path) {
    // The file the writer replaces (a symbolic link is written through), under one spelling.
    std::string target = path;
    try {
        target = output_target(path);
    } catch (const std::exception&) {
        // a loop of links: compared as written; writing it fails with its own error
    }
    std::error_code ec;
    const std::filesystem::path c = std::filesystem::weakly_canonical(target, ec);
    return ec ? target : c.string();
}

void check_replaced_folder(const std::string& path, const std::string& what,
                           const std::vector<std::string>& owned_suffixes, size_t longest_file_name) {
    const std::string p = trim_trailing_slashes(path);
    const std::string where = what + " '" + p + "': ";
    if (p.empty()) throw std::invalid_argument(what + ": expected a folder name, found an empty one");
    // Made as ".<name>.tmp.<pid>.<n>" beside it, holding files written through temporaries
    // "<file>.tmp.<pid>.<n>"; the old folder is renamed to ".<name>.old.<pid>.<n>".
    const size_t inside = longest_file_name ? 1 + longest_file_name + temp_name_extra_bytes(false) : 0;
    check_name_lengths(p, temp_name_extra_bytes(true), ".<name>.tmp.<pid>.<n>", temp_name_extra_bytes(true) + inside,
                       what);
    try {
        check_folder_replaceable(p, what, owned_suffixes);
    } catch (const std::runtime_error& e) {
        throw std::invalid_argument(e.what());
    }
    check_creatable(parent_folder(p), where);  // the new folder is made beside it, then renamed
}

void refuse_outputs_inside_folder(const NamedPath& folder, const std::vector<NamedPath>& outputs) {
    if (folder.path.empty()) return;
    const std::string dir = canonical_output(folder.path);
    const std::string prefix = dir == "/" ? dir : dir + "/";
    for (const NamedPath& out : outputs)
        if (!out.path.empty() && canonical_output(out.path).compare(0, prefix.size(), prefix) == 0)
            throw std::invalid_argument(out.label + " " + out.path + " lies inside " + folder.label + " " + folder.path +
                                        ", which is replaced as a whole: it would be deleted (or refused) after the " +
                                        "work; write it elsewhere");
}

void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
    // The same file under two spellings ("a.npy", "./a.npy"), through a symbolic link or a hard
    // link counts as the same.
    std::vector<std::string> canonical;
    for (const auto& o : outputs) canonical.push_back(canonical_output(o.second));
    for (size_t i = 0; i < outputs.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (canonical[i] == canonical[j] || same_file(outputs[i].second, outputs[j].second))
                throw std::invalid_argument(outputs[j].first + " and " + outputs[i].first + " name the same file '" +
                                            outputs[i].second + "': the second would replace the first");
}


}  // namespace dlbhc
