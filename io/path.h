// io/path.h -- the parts of a path and what a path names: the one home of these helpers.
//
// Paths are taken as written (POSIX, '/' separated): nothing is normalised, no "." or ".." is
// resolved and no link is followed by the string functions. The folder of a path is everything
// before its last '/' ("/" when that is the first character); a path without a '/' ("x", or "")
// has none, and the two functions below differ only there:
//   parent_folder  "."  -- a folder to open, list, stat or create files in (the current one);
//   folder_part    ""   -- a prefix for the paths a file names relative to itself, which then stay
//                          as written ("net.prototxt", not "./net.prototxt", in every message).
// A trailing '/' is not stripped: "a/b/" has the folder "a/b" and the base name "".
#pragma once
#include <string>

namespace dlbhc {

// "a/b" for "a/b/c", "/" for "/x", "." for "x" and for "".
std::string parent_folder(const std::string& path);
// "a/b" for "a/b/c", "/" for "/x", "" for "x" and for "".
std::string folder_part(const std::string& path);
// The last name of a path, after its last '/': "c" for "a/b/c", "x" for "x", "" for "a/".
std::string base_name(const std::string& path);
// `path` without the '/'s that end it ("a/b//" -> "a/b"), but "/" stays "/": the name of a folder
// given as "out/", for the functions above.
std::string trim_trailing_slashes(std::string path);
// "a/b" from "a" and "b"; `rel` unchanged when it is absolute or `dir` is empty ("" from
// folder_part); no second '/' after a `dir` that ends in one.
std::string join_path(const std::string& dir, const std::string& rel);

// What `path` names, following symbolic links (stat); false when it names nothing or cannot be
// looked at. The readers probe where an input should be with these, then open it as an InputFile
// (io/file_io.h), which names what they found ("expected a regular file, found a FIFO") instead
// of "not found".
bool path_exists(const std::string& path);       // anything: a file, a folder, a FIFO, a device
bool is_regular_file(const std::string& path);
bool is_directory(const std::string& path);
// Where a file is expected, anything but a folder counts as there: it is then opened as an
// InputFile, which names a FIFO or a device ("expected a regular file, found a FIFO") where a
// probe for regular files would have said "not found".
bool exists_as_file(const std::string& path);

}  // namespace dlbhc
