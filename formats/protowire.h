// formats/protowire.h -- a reader for the protocol-buffer wire format, without libprotobuf.
//
// .caffemodel (NetParameter), .binaryproto (BlobProto) and .onnx (ModelProto) files are all
// protobuf messages. On the wire a message is a sequence of fields, each a varint key
// (field_number << 3 | wire_type) followed by its value:
//   wire type 0  varint (int32/int64/uint/bool/enum), 1-10 bytes, 7 bits each, little end first
//   wire type 1  fixed64 (double, fixed64), 8 bytes little-endian
//   wire type 2  length-delimited: a varint length then that many bytes (string, bytes,
//                sub-message, packed repeated scalars)
//   wire type 5  fixed32 (float, fixed32), 4 bytes little-endian
// (types 3/4, the deprecated groups, appear in none of these formats and are rejected.)
// A field that is not known to the caller is skipped by its type; repeated fields simply repeat.
// Every read is bounds-checked against the enclosing message; errors name the file and the byte
// offset (from the start of the file) where the problem is.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dlbhc::pb {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// One field as read from the wire. For kVarint `u` holds the value; for kFixed32/kFixed64 `u` holds
// the raw little-endian bits; for kLen `data`/`size` point into the caller's buffer.
struct Field {
    uint32_t number = 0;
    WireType type = kVarint;
    uint64_t u = 0;
    const uint8_t* data = nullptr;
    size_t size = 0;
    size_t offset = 0;  // byte offset of the key from the start of the file
};

// Reads the fields of one message from [data, data + size). `file` names the source in errors;
// `base` is the offset of `data` within that file. The buffer must outlive the reader and every
// Field it returns.
class Reader {
public:
    Reader(const uint8_t* data, size_t size, std::string file, size_t base = 0);

    // Reads the next field into f; false at the end of the message. Throws std::runtime_error
    // ("<file>: byte <offset>: <what>") on a truncated varint, a length beyond the message end,
    // field number 0 or a group/unknown wire type.
    bool next(Field& f);

    // A reader over a length-delimited field's bytes (a sub-message).
    Reader sub(const Field& f) const;

    // Throws "<file>: byte <offset>: field <n>: <msg>".
    [[noreturn]] void fail(const Field& f, const std::string& msg) const;
    const std::string& file() const { return file_; }

    // Typed views of a field; each checks the wire type and throws through fail() otherwise.
    uint64_t as_uint(const Field& f) const;     // varint
    int64_t as_int(const Field& f) const;       // varint, two's complement (int32/int64)
    float as_float(const Field& f) const;       // fixed32
    double as_double(const Field& f) const;     // fixed64
    std::string as_string(const Field& f) const;  // length-delimited

    // Repeated scalars arrive packed (one kLen field) or unpacked (one field per value); both are
    // accepted and appended to `out`. Sizes are checked against the field before allocating.
    void append_floats(const Field& f, std::vector<float>& out) const;
    void append_doubles(const Field& f, std::vector<double>& out) const;
    void append_ints(const Field& f, std::vector<int64_t>& out) const;

private:
    uint64_t read_varint(size_t& pos, size_t key_offset) const;
    [[noreturn]] void fail_at(size_t pos, const std::string& msg) const;

    const uint8_t* data_;
    size_t size_, pos_ = 0, base_;
    std::string file_;
};

// Encoding helpers, used by tests and by tools that write protobuf (e.g. test fixtures).
void put_varint(std::string& out, uint64_t v);
void put_key(std::string& out, uint32_t number, WireType type);
void put_len(std::string& out, uint32_t number, const std::string& bytes);
void put_fixed32(std::string& out, uint32_t number, float v);

}  // namespace dlbhc::pb
