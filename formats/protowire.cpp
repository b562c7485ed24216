// formats/protowire.cpp -- see protowire.h for the wire format.
#include "formats/protowire.h"
#include "io/byte_order.h"

#include <cstring>
#include <stdexcept>

namespace dlbhc::pb {

Reader::Reader(const uint8_t* data, size_t size, std::string file, size_t base)
    : data_(data), size_(size), base_(base), file_(std::move(file)) {}

void Reader::fail_at(size_t pos, const std::string& msg) const {
    throw std::runtime_error(file_ + ": byte " + std::to_string(base_ + pos) + ": " + msg);
}

void Reader::fail(const Field& f, const std::string& msg) const {
    throw std::runtime_error(file_ + ": byte " + std::to_string(f.offset) + ": field " +
                             std::to_string(f.number) + ": " + msg);
}

uint64_t Reader::read_varint(size_t& pos, size_t start) const {
    uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
        if (pos >= size_) fail_at(start, "truncated varint (message ends after " + std::to_string(i) + " bytes of it)");
        uint8_t b = data_[pos++];
        // The tenth byte may only carry the top bit of a 64-bit value.
        if (i == 9 && b > 1) fail_at(start, "varint overflows 64 bits");
        v |= uint64_t(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) return v;
    }
    fail_at(start, "varint longer than 10 bytes");
}

bool Reader::next(Field& f) {
    if (pos_ >= size_) return false;
    size_t start = pos_;
    uint64_t key = read_varint(pos_, start);
    f = Field();
    f.offset = base_ + start;
    if ((key >> 3) == 0) fail_at(start, "field number 0 (not a protobuf message, or corrupt)");
    if ((key >> 3) > 0x1fffffff) fail_at(start, "field number above 2^29-1 (corrupt)");
    f.number = uint32_t(key >> 3);
    uint32_t wt = uint32_t(key & 7);
    switch (wt) {
    case kVarint:
        f.type = kVarint;
        f.u = read_varint(pos_, pos_);
        break;
    case kFixed64:
    case kFixed32: {
        size_t n = wt == kFixed64 ? 8 : 4;
        if (size_ - pos_ < n)
            fail_at(start, "field " + std::to_string(f.number) + ": fixed" + std::to_string(8 * n) +
                               " value cut off (" + std::to_string(size_ - pos_) + " bytes left)");
        f.type = WireType(wt);
        f.u = n == 8 ? load_le64(data_ + pos_) : load_le32(data_ + pos_);
        pos_ += n;
        break;
    }
    case kLen: {
        size_t lpos = pos_;
        uint64_t len = read_varint(pos_, lpos);
        if (len > size_ - pos_)
            fail_at(lpos, "field " + std::to_string(f.number) + ": length prefix " + std::to_string(len) +
                              " goes beyond the end of its message (" + std::to_string(size_ - pos_) +
                              " bytes left)");
        f.type = kLen;
        f.data = data_ + pos_;
        f.size = size_t(len);
        pos_ += size_t(len);
        break;
    }
    default:
        fail_at(start, "field " + std::to_string(f.number) + ": wire type " + std::to_string(wt) +
                           (wt == 3 || wt == 4 ? " (groups) is not used by Caffe or ONNX files"
                                               : " does not exist (corrupt file)"));
    }
    return true;
}

Reader Reader::sub(const Field& f) const {
    if (f.type != kLen) fail(f, "expected a sub-message (wire type 2), found wire type " + std::to_string(f.type));
    // The payload starts right after key and length; recover its file offset from the pointer.
    return Reader(f.data, f.size, file_, base_ + size_t(f.data - data_));
}

uint64_t Reader::as_uint(const Field& f) const {
    if (f.type != kVarint) fail(f, "expected a varint (wire type 0), found wire type " + std::to_string(f.type));
    return f.u;
}

int64_t Reader::as_int(const Field& f) const { return int64_t(as_uint(f)); }

float Reader::as_float(const Field& f) const {
    if (f.type != kFixed32) fail(f, "expected a float (wire type 5), found wire type " + std::to_string(f.type));
    uint32_t bits = uint32_t(f.u);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
}

double Reader::as_double(const Field& f) const {
    if (f.type != kFixed64) fail(f, "expected a double (wire type 1), found wire type " + std::to_string(f.type));
    double v;
    std::memcpy(&v, &f.u, 8);
    return v;
}

std::string Reader::as_string(const Field& f) const {
    if (f.type != kLen) fail(f, "expected a string (wire type 2), found wire type " + std::to_string(f.type));
    return std::string(reinterpret_cast<const char*>(f.data), f.size);
}

void Reader::append_floats(const Field& f, std::vector<float>& out) const {
    if (f.type == kFixed32) {
        out.push_back(as_float(f));
        return;
    }
    if (f.type != kLen) fail(f, "expected floats (packed or fixed32), found wire type " + std::to_string(f.type));
    if (f.size % 4) fail(f, "packed floats: " + std::to_string(f.size) + " bytes is not a multiple of 4");
    size_t n = f.size / 4, old = out.size();
    out.resize(old + n);
    // The wire is little-endian, as is every machine this builds for; memcpy avoids misaligned loads.
    static_assert(sizeof(float) == 4, "float must be 32-bit");
    // An empty packed field is legal; memcpy must not see the null pointer of an empty vector.
    if (n) std::memcpy(out.data() + old, f.data, f.size);
}

void Reader::append_doubles(const Field& f, std::vector<double>& out) const {
    if (f.type == kFixed64) {
        out.push_back(as_double(f));
        return;
    }
    if (f.type != kLen) fail(f, "expected doubles (packed or fixed64), found wire type " + std::to_string(f.type));
    if (f.size % 8) fail(f, "packed doubles: " + std::to_string(f.size) + " bytes is not a multiple of 8");
    size_t n = f.size / 8, old = out.size();
    out.resize(old + n);
    if (n) std::memcpy(out.data() + old, f.data, f.size);
}

void Reader::append_ints(const Field& f, std::vector<int64_t>& out) const {
    if (f.type == kVarint) {
        out.push_back(int64_t(f.u));
        return;
    }
    if (f.type != kLen) fail(f, "expected integers (packed or varint), found wire type " + std::to_string(f.type));
    Reader r(f.data, f.size, file_, base_ + size_t(f.data - data_));
    size_t pos = 0;
    while (pos < f.size) out.push_back(int64_t(r.read_varint(pos, pos)));
}

void put_varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(char(uint8_t(v) | 0x80));
        v >>= 7;
    }
    out.push_back(char(v));
}

void put_key(std::string& out, uint32_t number, WireType type) { put_varint(out, (uint64_t(number) << 3) | type); }

void put_len(std::string& out, uint32_t number, const std::string& bytes) {
    put_key(out, number, kLen);
    put_varint(out, bytes.size());
    out += bytes;
}

void put_fixed32(std::string& out, uint32_t number, float v) {
    put_key(out, number, kFixed32);
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int i = 0; i < 4; ++i) out.push_back(char(bits >> (8 * i)));
}

}  // namespace dlbhc::pb
