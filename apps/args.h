// apps/args.h -- a tiny "--name value" / "--flag" parser shared by the subcommands.
#pragma once
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "io/file_io.h"

namespace dlbhc {

class Args {
public:
    // argv holds the words after the subcommand. `flags` are options without a value; every other
    // "--name" takes the next word. Unknown names are an error listing the accepted ones. An
    // option given twice is an error, unless it is one of `repeatable` (which must be among
    // `options`): get() then returns its first value and get_all() every one, in order.
    Args(const std::vector<std::string>& argv, const std::vector<std::string>& options,
         const std::vector<std::string>& flags, const std::vector<std::string>& repeatable = {});
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string get(const std::string& name, const std::string& def) const;
    std::vector<std::string> get_all(const std::string& name) const;  // empty when absent
    int get_int(const std::string& name, int def) const;  // throws on a non-integer value
    // An integer option that must lie in [lo, hi] when given; `def` (returned as is, so it may be
    // a sentinel such as 0 = "as in the file") when absent. Throws std::invalid_argument naming the
    // option, the range and the value.
    int get_int_in(const std::string& name, int def, int lo, int hi) const;
    double get_double(const std::string& name, double def) const;  // throws on a non-number
    const std::vector<std::string>& positional() const { return positional_; }
    // Throws "unexpected argument ..." when any word is not an option (commands without files).
    void expect_no_positional() const;
    // Throws "--<name> is required (see --help)" for the first missing option.
    void require(std::initializer_list<const char*> names) const;

private:
    std::map<std::string, std::string> values_;
    std::map<std::string, std::vector<std::string>> all_values_;  // every value of each option, in order
    std::vector<std::string> positional_;
};

// --help: prints `texts` (the parts of the command's help, in order) on stdout and returns true
// when it was given; the command then returns 0 without checking its other options.
bool print_help(const Args& a, std::initializer_list<const char*> texts);

// Checks, before any long work, that a file can later be written at `path` (the writers write a
// temporary file beside it and rename it over `path`): `path` is not an existing folder nor
// another non-regular file; every name in it, and its last name with the longest temporary name
// the writer makes of it, fit the file system (NAME_MAX, PATH_MAX); its nearest existing ancestor
// folder is a folder in which this process can create files (the missing folders between are made
// at write time by the atomic writer, io/file_io.h). A symbolic link is checked as the file it
// names (the writers write through it). Creates nothing that stays. `what` names the option in
// errors ("--out").
// Throws std::invalid_argument naming the option, the path and what is wrong.
void check_output_path(const std::string& path, const std::string& what);
// The same for an output folder (e.g. `audit --dump DIR`): an existing folder must be writable,
// a missing one creatable; an existing file is refused.
void check_output_folder(const std::string& path, const std::string& what);
// An output folder replaced as a whole by an AtomicDirWriter (io/file_io.h: audit --dump DIR,
// the picture folder of an --html page), checked before any work as the writer would check it
// after: an existing `path` may be replaced (a folder holding only files ending in one of
// `owned_suffixes`; not a file or a link), the folder beside it can be made, and the names the
// writer makes fit the file system (its temporary and old folders ".<name>.tmp.<pid>.<n>", the
// temporaries of its files, whose names have at most `longest_file_name` bytes; 0: unknown).
// Creates nothing. Throws std::invalid_argument naming `what` and the path.
void check_replaced_folder(const std::string& path, const std::string& what,
                           const std::vector<std::string>& owned_suffixes, size_t longest_file_name);
// Throws std::invalid_argument when an output lies inside a folder that is replaced as a whole
// (check_replaced_folder): written first, it would be deleted with the folder (or make the
// folder's writer refuse it), after the work. Compares paths with "." and ".." resolved and
// symlinks followed; paths that do not exist yet count too.
void refuse_outputs_inside_folder(const NamedPath& folder, const std::vector<NamedPath>& outputs);
// Throws std::invalid_argument when two of the given (option, path) pairs name the same file (any
// spelling, a symbolic or hard link): the second write would replace the first.
void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs);
// The file an output path is written to (io/file_io.h output_target: symbolic links followed),
// made absolute with its existing folders resolved, so that two spellings of one file compare
// equal; for comparing outputs that may not exist yet.
std::string canonical_output(const std::string& path);

}  // namespace dlbhc
