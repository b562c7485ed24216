// search/file_io.h -- the two file primitives the index needs: an atomic writer and a read-only
// memory map (POSIX).
//
// AtomicFileWriter: bytes go to a temporary file in the target's folder ("<path>.tmp.<pid>.<n>");
// commit() flushes, fsyncs, renames it over the target and fsyncs the folder. rename() is atomic
// on POSIX file systems, so a reader (or a crash) sees either the old file or the new one, never a
// torn one; a writer that fails or is destroyed without commit() removes its temporary file and
// leaves the target as it was.
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
    // after removing the temporary file.
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
