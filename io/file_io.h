// io/file_io.h -- the two file primitives the index needs: an atomic writer and a read-only
// memory map (POSIX).
//
// AtomicFileWriter: bytes go to a temporary file in the target's folder ("<path>.tmp.<pid>.<n>");
// commit() flushes, fsyncs, renames it over the target and fsyncs the folder. rename() is atomic
// on POSIX file systems, so a reader (or a crash) sees either the old file or the new one, never a
// torn one; a writer that fails or is destroyed without commit() removes its temporary file and
// leaves the target as it was.
// Stale temporaries: a writer killed mid-write (SIGKILL, power loss) cannot remove its temporary
// file. After each successful commit() the writer therefore removes, in the target's folder, the
// temporaries of the same target, "<basename>.tmp.<pid>.<n>" (decimal pid and n, nothing else),
// whose pid names no live process (kill(pid, 0) fails with ESRCH). It never removes those of a
// live process (another writer may be busy with them; a dead writer's pid that was reused keeps
// its file until a later commit finds the pid free), nor those of its own process (another thread
// may be writing the same target). Writers of one folder are assumed to share a pid namespace
// (one machine, not a network folder written from several hosts or containers). The clean-up is
// best effort: it never makes a commit fail.
// MappedFile: mmap(PROT_READ, MAP_SHARED) of a whole file: opening is instant whatever the size,
// pages are read on first touch, and processes mapping the same file share the page cache. A
// mapping keeps the inode alive, so replacing the file (rename) does not disturb it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dlbhc {

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
    // Overwrites bytes already written at `offset` (used for a header completed last).
    void write_at(uint64_t offset, const void* p, size_t n);
    // Makes the new file visible under `path` (see the file comment). Throws on any failure,
    // after removing the temporary file. On success, also removes stale temporaries of `path`
    // left by dead processes (see the file comment).
    void commit();
    const std::string& temp_path() const { return tmp_; }

private:
    [[noreturn]] void fail(const std::string& doing, int err);
    void flush();
    std::string path_, tmp_, what_;
    int fd_ = -1;
    uint64_t written_ = 0;
    std::vector<char> buf_;
};

// Removes the stale temporaries of `path` ("<basename>.tmp.<pid>.<n>" in its folder whose pid is
// not a live process and not this process; see the file comment). Returns how many it removed.
// Errors (an unreadable folder, a file already gone) are ignored. commit() calls it.
size_t remove_stale_temporaries(const std::string& path);

class MappedFile {
public:
    MappedFile() = default;
    // Maps the whole file read-only; throws std::runtime_error naming the file on failure.
    explicit MappedFile(const std::string& path, const std::string& what);
    ~MappedFile();
    MappedFile(MappedFile&& o) noexcept;
    MappedFile& operator=(MappedFile&& o) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const unsigned char* data() const { return data_; }
    size_t size() const { return size_; }

private:
    void release();
    const unsigned char* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace dlbhc
