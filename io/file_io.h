// io/file_io.h -- the file primitives every command uses: opening an input, an atomic writer,
// a read-only memory map, and the check that an output does not replace an input (POSIX).
//
// InputFile: every file the program reads is opened here (MappedFile, read_file_bytes, the
// prototxt and ONNX readers). A plain open() of a FIFO without a writer waits for one forever, so
// the file is opened with O_NONBLOCK; then fstat() of the descriptor (not of the path, so the
// check and the reads see the same file) refuses anything but a regular file -- a directory, FIFO,
// socket or device -- with an error naming the file and what it is; then O_NONBLOCK is cleared,
// so reads block as usual.
//
// AtomicFileWriter: bytes go to a temporary file in the target's folder ("<path>.tmp.<pid>.<n>");
// commit() flushes, fsyncs, renames it over the target and fsyncs the folder. rename() is atomic
// on POSIX file systems, so a reader (or a crash) sees either the old file or the new one, never a
// torn one; a writer that fails or is destroyed without commit() removes its temporary file and
// leaves the target as it was. commit() is two steps, prepare() (flush, fsync, close: where a
// full disk or a file size limit fails) and publish() (the rename), so that an output of several
// files (commit_all) renames none of them before all are complete.
// Symbolic links: when `path` is a symbolic link (or a chain of them), the target is the file it
// finally names (output_target), also when that does not exist yet (a dangling link): the
// temporary file goes beside that file and is renamed over it, so the link stays a link and shows
// the new content. Renaming over the link itself would replace the link by a file and leave the
// file it named unchanged, splitting what the user keeps as one.
// Missing folders: the writers make the missing folders above their target (mkdir -p) and, when
// the output is abandoned (a failure, or destroyed without commit), remove again those they made
// (deepest first, each only while empty): a command that fails leaves no folder behind.
// Stale temporaries: a writer killed mid-write (SIGKILL, power loss) cannot remove its temporary
// file. After each successful commit() the writer therefore removes, in the target's folder, the
// temporaries of the same target, "<basename>.tmp.<pid>.<n>" (decimal pid and n, nothing else),
// whose pid names no live process (kill(pid, 0) fails with ESRCH). It never removes those of a
// live process (another writer may be busy with them; a dead writer's pid that was reused keeps
// its file until a later commit finds the pid free), nor those of its own process (another thread
// may be writing the same target). Writers of one folder are assumed to share a pid namespace
// (one machine, not a network folder written from several hosts or containers). The clean-up is
// best effort: it never makes a commit fail.
// AtomicDirWriter: the same for an output made of several files (a folder of pictures, a folder of
// .npy dumps). The files go to a temporary folder beside the target (".<name>.tmp.<pid>.<n>" in
// the same parent, so that rename() works); commit() fsyncs every file and the folder, then
// renames it into place. A writer destroyed without commit() removes its temporary folder, so a
// failure midway leaves no partial folder and an existing folder untouched. An existing target is
// replaced only once the new folder is complete: rename the old one away (".<name>.old.<pid>.<n>"),
// rename the new one in, remove the old one. Because it deletes the old folder, the writer
// refuses (when constructed and again at commit) to replace a folder holding anything it would
// not have written: a subfolder, a link, or a file whose name lacks the caller's suffixes.
// Stale temporary and old folders of dead processes are removed after each commit, as above.
// MappedFile: mmap(PROT_READ, MAP_SHARED) of a whole file: opening is instant whatever the size,
// pages are read on first touch, and processes mapping the same file share the page cache. A
// mapping keeps the inode alive, so replacing the file (rename) does not disturb it.
// A file truncated in place by another program while mapped is another matter: a read past its new
// end raises SIGBUS. install_file_signal_handlers() (main calls it) turns that into an error naming
// the file: every live mapping is recorded (up to kMaxTrackedFiles at once) so that the handler can
// find the one holding the faulting address; it then removes the temporary files and folders of
// the atomic writers still in progress (also recorded), writes the error and exits with status 1.
// A fault outside the recorded mappings keeps the default action (the process dies by SIGBUS).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dlbhc {

// Installs what every dlbhc process needs for the guarantees above; main() calls it once, before
// any file is opened. `program` ("dlbhc index") starts the SIGBUS error, as main's own errors do;
// it must stay valid for the life of the process (argv). It makes
//  - SIGXFSZ ignored: a write past the file size limit (ulimit -f, RLIMIT_FSIZE) then fails with
//    EFBIG, which the writer reports ("... failed: File too large") after removing its temporary
//    file, instead of the signal killing the process mid-write with the temporary left behind;
//  - SIGBUS on a read of a mapped file past its end (truncated in place by another program) the
//    error "<program>: error: index file 'x.idx' was truncated or changed by another program while
//    mapped (read past its end); its output was not written" after removing the temporaries of
//    the writers in progress, and exit status 1 (see MappedFile above).
void install_file_signal_handlers(const char* program);

// How many mappings and how many temporaries the SIGBUS handler can know of at once (beyond
// that, a mapping or temporary is simply not recorded: its SIGBUS is the default one, its
// temporary is left for the stale clean-up below).
constexpr int kMaxTrackedFiles = 256;

// The longest name the atomic writers make from an output's name, for the checks that the names
// of an output fit the file system before any work (NAME_MAX): a file's temporary
// "<name>.tmp.<pid>.<n>", a folder's ".<name>.tmp.<pid>.<n>" and ".<name>.old.<pid>.<n>", with the
// widest pid and counter. Returns the number of bytes the writer adds to `name`.
size_t temp_name_extra_bytes(bool folder);

class InputFile {
public:
    // Opens `path` for reading (see the file comment). `who` starts every error message: "index
    // file 'db.idx'", or just the path. Throws std::runtime_error "<who>: cannot open: <reason>" or
    // "<who>: expected a regular file, found a FIFO" (a directory, a socket, ...).
    InputFile(const std::string& path, const std::string& who);
    ~InputFile();
    InputFile(InputFile&& o) noexcept;
    InputFile& operator=(InputFile&&) = delete;
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    int fd() const { return fd_; }
    // Size in bytes when opened (fstat).
    uint64_t size() const { return size_; }
    // Reads up to n bytes from the current position into p (n bytes of room); fewer only at the
    // end of the file. Throws naming the file when a read fails.
    size_t read(void* p, size_t n);
    // The whole file. Throws when its size exceeds max_bytes (before allocating anything) or it
    // ends early (changed while being read).
    std::vector<uint8_t> read_all(uint64_t max_bytes);

private:
    std::string who_;
    int fd_ = -1;
    uint64_t size_ = 0;
};

// What a file is, for error messages, from its st_mode: "a regular file", "a directory",
// "a FIFO", "a socket", "a character device", "a block device", "a symbolic link".
std::string file_kind(unsigned mode);

// A path as the user named it on the command line: `label` is the option ("--index") or the
// argument ("IN"), `path` its value ("" when not given).
struct NamedPath {
    std::string label, path;
};

// True when both paths name one existing file: the same device and inode after following
// symlinks, so "./x" and "x", hard links and symlinks all count as the same file.
bool same_file(const std::string& a, const std::string& b);

// Throws std::invalid_argument when an output names the same file as an input, before anything
// is written: "--json out.idx is the same file as --index out.idx; refusing to overwrite an
// input". Empty paths, and outputs that do not exist yet, pass. Each path is examined once (a
// dataset's thousands of images cost one stat each, and none while no output exists).
void refuse_overwriting_inputs(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);
// The same for an output folder that is replaced as a whole (AtomicDirWriter): throws
// std::invalid_argument when an input lies anywhere inside it (symlinks resolved), since the
// replaced folder is deleted: "--image d/x.png lies inside --dump d, which is replaced as a
// whole; refusing to delete an input". A folder that does not exist yet holds no input.
void refuse_inputs_inside_folder(const NamedPath& folder, const std::vector<NamedPath>& inputs);

// The file the atomic writers replace for the output `path`: `path` itself, or, when it is a
// symbolic link, the file the chain of links finally names (a relative link is read against the
// link's folder), which need not exist. Throws std::runtime_error naming `path` for a chain of
// more than 40 links (a loop).
std::string output_target(const std::string& path);

// Makes the missing folders above `path` (mkdir -p of its folder) and returns those it made,
// outermost first. Throws std::runtime_error "cannot create folder '<dir>': <reason>" after
// removing those it made.
std::vector<std::string> make_parent_folders(const std::string& path);
// Removes the folders `made` (as make_parent_folders returned them), deepest first, each only if
// it is empty; errors are ignored (another process may have put a file there meanwhile).
void remove_made_folders(const std::vector<std::string>& made);

class AtomicFileWriter {
public:
    // `what` names the file's kind in error messages ("index file").
    AtomicFileWriter(const std::string& path, const std::string& what);
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    // Appends n bytes (buffered).
    void write(const void* p, size_t n);
    // Bytes written so far.
    uint64_t size() const { return written_ + buf_.size(); }
    // Writes n bytes at `offset`, past what is written so far too (used for a header completed
    // last, and by writers that fill several parts of the file at once, each in order: the index
    // writer). Bytes never written read as zero (a hole); size() counts write() only.
    void write_at(uint64_t offset, const void* p, size_t n);
    // Reads back n bytes at `offset` of what was written (write() and write_at()) into p; throws
    // naming the temporary file if fewer are there. For a checksum over parts written out of order.
    void read_at(uint64_t offset, void* p, size_t n);
    // Makes the new file visible under `path` (see the file comment): prepare(), then publish().
    // Throws on any failure, after removing the temporary file. On success, also removes stale
    // temporaries of `path` left by dead processes (see the file comment).
    void commit();
    // The first step of commit(): writes what is buffered, fsyncs and closes the temporary file.
    // Throws (after removing it) when that fails: a full disk, a file size limit.
    void prepare();
    // The second step: renames the prepared temporary file over the target, fsyncs the folder.
    void publish();
    const std::string& temp_path() const { return tmp_; }
    // The file replaced at commit: output_target(path).
    const std::string& target() const { return target_; }

private:
    [[noreturn]] void fail(const std::string& doing, int err);
    void flush();
    void abandon();
    enum class State { Writing, Prepared, Done };
    std::string path_, target_, tmp_, what_;
    std::vector<std::string> made_folders_;  // made for the target; removed if abandoned
    int fd_ = -1;
    State state_ = State::Writing;
    int tracked_ = -1;  // the SIGBUS handler's record of tmp_
    uint64_t written_ = 0;
    std::vector<char> buf_;
};

// Commits several writers as one output: every one is prepared (written out and fsynced) before
// any is published, so a full disk or a file size limit leaves all the previous files as they
// were. (A crash between the renames can still publish only some of them.) Throws the first
// failure; the writers not yet published then remove their temporary files when destroyed.
void commit_all(const std::vector<AtomicFileWriter*>& writers);

// Removes the stale temporaries of `path` ("<basename>.tmp.<pid>.<n>" in its folder whose pid is
// not a live process and not this process; see the file comment). Returns how many it removed.
// Errors (an unreadable folder, a file already gone) are ignored. commit() calls it.
size_t remove_stale_temporaries(const std::string& path);

class AtomicDirWriter {
public:
    // `path`: the folder to produce (trailing slashes ignored); missing folders above it are made
    // (and removed again if the output is abandoned, as for AtomicFileWriter). `what`
    // names the output's kind in error messages ("dump folder"). `owned_suffixes`: the endings
    // (".npy") of every file an existing `path` may hold for it to be replaced; empty: any name.
    // Throws std::runtime_error if `path` exists and may not be replaced (see the file comment),
    // or the temporary folder cannot be created.
    AtomicDirWriter(const std::string& path, const std::string& what, std::vector<std::string> owned_suffixes = {});
    ~AtomicDirWriter();
    AtomicDirWriter(const AtomicDirWriter&) = delete;
    AtomicDirWriter& operator=(const AtomicDirWriter&) = delete;

    // Where to write the output's file `name` (inside the temporary folder).
    std::string file(const std::string& name) const { return tmp_ + "/" + name; }
    const std::string& temp_path() const { return tmp_; }
    const std::string& path() const { return path_; }
    // Makes the new folder visible under `path`. Throws on failure, after removing the temporary
    // folder; `path` then holds the previous folder, if any (but see the crash note in file_io.cpp).
    void commit();

private:
    [[noreturn]] void fail(const std::string& doing, int err);
    void check_replaceable() const;
    void remove_temp();
    std::string path_, tmp_, what_;
    std::vector<std::string> suffixes_;
    std::vector<std::string> made_folders_;  // made for the folder; removed if abandoned
    bool done_ = false;
    int tracked_ = -1;  // the SIGBUS handler's record of tmp_
};

// The check AtomicDirWriter makes (when constructed and at commit) before it may replace `path`,
// for callers that check their outputs before any work: throws std::runtime_error, naming `what`
// and the path, when `path` exists and is not a folder (a file, a link) or holds anything the
// writer would not write (a subfolder, a link, a file whose name lacks all `owned_suffixes`; with
// no suffixes, any file may go). A missing `path` passes; trailing slashes are ignored.
void check_folder_replaceable(const std::string& path, const std::string& what,
                              const std::vector<std::string>& owned_suffixes);

// Removes the stale temporary and old folders of the folder `path` (".<name>.tmp.<pid>.<n>" and
// ".<name>.old.<pid>.<n>" beside it whose pid is not a live process and not this process), with
// all they hold. Returns how many it removed; errors are ignored. AtomicDirWriter::commit() calls it.
size_t remove_stale_temporary_dirs(const std::string& path);

class MappedFile {
public:
    MappedFile() = default;
    // Maps the whole file read-only (opened as an InputFile); throws std::runtime_error naming the
    // file on failure.
    explicit MappedFile(const std::string& path, const std::string& what);
    ~MappedFile();
    MappedFile(MappedFile&& o) noexcept;
    MappedFile& operator=(MappedFile&& o) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const unsigned char* data() const { return data_; }
    size_t size() const { return size_; }
    // Lets the resident pages of [p, p + n) (inside the mapping) go: the next read maps them again
    // from the page cache. A pass over a large file (a checksum, a copy) then does not keep the
    // whole file resident in this process (its peak memory stays that of one piece). The pages
    // from the one holding p to the one holding p + n, that one excluded: a pass that calls it
    // for its pieces in order lets go of every page once. Only a hint (errors are ignored).
    void drop_resident(const void* p, size_t n) const;

private:
    void release();
    const unsigned char* data_ = nullptr;
    size_t size_ = 0;
    int tracked_ = -1;  // the SIGBUS handler's record of the mapping
};

}  // namespace dlbhc
