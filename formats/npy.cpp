// formats/npy.cpp -- see npy.h.
#include "formats/npy.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "io/file_io.h"
#include "io/byte_order.h"

namespace dlbhc {

namespace {

const char kNpyMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

// The header dict, parsed strictly. `fail` throws with the file name and the header text.
class HeaderParser {
public:
    HeaderParser(const std::string& text, const std::string& where) : s_(text), where_(where) {}

    void parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape) {
        bool have_descr = false, have_fortran = false, have_shape = false;
        skip_ws();
        expect('{');
        for (;;) {
            skip_ws();
            if (peek() == '}') break;
            std::string key = quoted();
            skip_ws();
            expect(':');
            skip_ws();
            if (key == "descr") {
                if (have_descr) fail("key 'descr' appears twice");
                descr = quoted();
                have_descr = true;
            } else if (key == "fortran_order") {
                if (have_fortran) fail("key 'fortran_order' appears twice");
                fortran = boolean();
                have_fortran = true;
            } else if (key == "shape") {
                if (have_shape) fail("key 'shape' appears twice");
                shape = tuple();
                have_shape = true;
            } else {
                fail("unexpected key '" + key + "' (expected 'descr', 'fortran_order' and 'shape')");
            }
            skip_ws();
            if (peek() == ',') {
                ++i_;
                continue;
            }
            skip_ws();
            if (peek() != '}') fail(std::string("expected ',' or '}' after the value of '") + key + "'");
        }
        expect('}');
        skip_ws();
        if (i_ != s_.size()) fail("unexpected text after the closing '}'");
        if (!have_descr || !have_fortran || !have_shape)
            fail(std::string("missing key '") + (!have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape") + "'");
    }

private:
    [[noreturn]] void fail(const std::string& m) const {
        throw std::runtime_error(where_ + "header: " + m + " at character " + std::to_string(i_) + " of \"" +
                                 printable() + "\"");
    }
    std::string printable() const {
        std::string r;
        for (char c : s_.substr(0, 200)) r += (c >= 32 && c < 127) ? std::string(1, c) : std::string("?");
        return r;
    }
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    void skip_ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++i_;
    }
    std::string quoted() {
        char q = peek();
        if (q != '\'' && q != '"') fail("expected a quoted string");
        size_t end = s_.find(q, i_ + 1);
        if (end == std::string::npos) fail("unterminated string");
        std::string r = s_.substr(i_ + 1, end - i_ - 1);
        i_ = end + 1;
        return r;
    }
    bool boolean() {
        if (s_.compare(i_, 4, "True") == 0) {
            i_ += 4;
            return true;
        }
        if (s_.compare(i_, 5, "False") == 0) {
            i_ += 5;
            return false;
        }
        fail("expected True or False");
    }
    // "()", "(5,)", "(2, 3)", "(2, 3,)"; a 1-tuple needs its comma, as in Python.
    std::vector<int64_t> tuple() {
        std::vector<int64_t> r;
        expect('(');
        bool comma_after_last = false;
        for (;;) {
            skip_ws();
            if (peek() == ')') break;
            if (!(peek() >= '0' && peek() <= '9')) fail("expected a non-negative integer in the shape");
            int64_t v = 0;
            while (peek() >= '0' && peek() <= '9') {
                if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("shape entry too large");
                v = v * 10 + (peek() - '0');
                ++i_;
            }
            // Python ints may carry an 'L' suffix in files written by Python 2's numpy.
            if (peek() == 'L') ++i_;
            r.push_back(v);
            skip_ws();
            comma_after_last = false;
            if (peek() == ',') {
                ++i_;
                comma_after_last = true;
            } else if (peek() != ')') {
                fail("expected ',' or ')' in the shape");
            }
        }
        if (r.size() == 1 && !comma_after_last) fail("a one-element shape needs a trailing comma: (n,)");
        expect(')');
        return r;
    }

    const std::string& s_;
    const std::string& where_;
    size_t i_ = 0;
};

std::string shape_tuple(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1) s += ",";
    return s + ")";
}

// The values at p, of dtype `descr` ('<f4', '<f8', '<i4' or '<i8', `item` bytes each), as float32
// into `out` (out.size() of them): a float64 beyond float32's range or an integer float32 cannot
// hold exactly is an error naming it and its index.
void convert_values(const uint8_t* p, const std::string& descr, size_t item, std::vector<float>& out,
                    const std::string& where) {
    auto bad = [&](const std::string& m) { return std::runtime_error(where + m); };
    const size_t n = out.size();
    if (descr == "<f4") {
        if (n) std::memcpy(out.data(), p, n * 4);
    } else if (descr == "<f8") {
        for (size_t i = 0; i < n; ++i) {
            const double v = load_le_f64(p + 8 * i);
            float f = (float)v;
            if (std::isfinite(v) && !std::isfinite(f))
                throw bad("value " + std::to_string(v) + " at index " + std::to_string(i) + " does not fit in float32");
            out[i] = f;
        }
    } else {
        for (size_t i = 0; i < n; ++i) {
            int64_t v;
            if (item == 4) {
                v = int32_t(load_le32(p + 4 * i));
            } else {
                v = int64_t(load_le64(p + 8 * i));
            }
            float f = (float)v;
            if ((double)f != (double)v || v > (int64_t(1) << 53) || v < -(int64_t(1) << 53))
                throw bad("integer " + std::to_string(v) + " at index " + std::to_string(i) +
                          " cannot be held exactly by float32");
            out[i] = f;
        }
    }
}

}  // namespace

NamedTensor decode_npy(const uint8_t* data, size_t size, const std::string& file, std::string* dtype_out) {
    const std::string where = "npy file '" + file + "': ";
    auto bad = [&](const std::string& m) { return std::runtime_error(where + m); };
    if (size < 10 || std::memcmp(data, kNpyMagic, 6) != 0)
        throw bad("expected the magic \"\\x93NUMPY\" and a 10-byte preamble (a NumPy .npy file), found " +
                  (size < 6 ? "a file of only " + std::to_string(size) + " bytes" : std::string("other bytes")));
    const int major = data[6], minor = data[7];
    size_t header_len, pre;
    if (major == 1 && minor == 0) {
        header_len = load_le16(data + 8);
        pre = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (size < 12) throw bad("truncated: expected a 12-byte preamble for version " + std::to_string(major) + ".0");
        header_len = load_le32(data + 8);
        pre = 12;
    } else {
        throw bad("expected format version 1.0, 2.0 or 3.0, found " + std::to_string(major) + "." + std::to_string(minor));
    }
    if (header_len > size - pre)
        throw bad("truncated: the header length is " + std::to_string(header_len) + " bytes, only " +
                  std::to_string(size - pre) + " follow the preamble");
    const std::string header((const char*)data + pre, header_len);
    std::string descr;
    bool fortran = false;
    std::vector<int64_t> shape;
    HeaderParser(header, where).parse(descr, fortran, shape);

    if (fortran) throw bad("fortran_order is True: only C-order arrays are supported (save with np.ascontiguousarray)");
    size_t item = 0;
    if (descr == "<f4" || descr == "<i4") item = 4;
    else if (descr == "<f8" || descr == "<i8") item = 8;
    else if (!descr.empty() && descr[0] == '>')
        throw bad("unsupported dtype '" + descr + "': big-endian (expected '<f4', '<f8', '<i4' or '<i8')");
    else
        throw bad("unsupported dtype '" + descr + "' (expected '<f4', '<f8', '<i4' or '<i8')");

    const size_t avail = size - pre - header_len;
    uint64_t count = 1;
    for (int64_t d : shape) {
        // Saturate above what the file could hold, so no product overflows.
        if (d != 0 && count > avail / (uint64_t)d) count = avail + 1;
        else count *= (uint64_t)d;
    }
    if (count > avail / item || count * item != avail)
        throw bad("shape " + shape_tuple(shape) + " of '" + descr + "' needs " +
                  (count > avail ? std::string("more than ") + std::to_string(avail) : std::to_string(count * item)) +
                  " data bytes, found " + std::to_string(avail));

    NamedTensor t;
    t.name = file;
    t.dims = shape;
    t.data.resize((size_t)count);
    convert_values(data + pre + header_len, descr, item, t.data, where);
    if (dtype_out) *dtype_out = descr;
    return t;
}

NamedTensor read_npy(const std::string& path, std::string* dtype) {
    MappedFile m(path, "npy file");
    return decode_npy(m.data(), m.size(), path, dtype);
}

std::string npy_header(const std::string& descr, const std::vector<int64_t>& shape) {
    for (int64_t d : shape)
        if (d < 0) throw std::invalid_argument("npy: negative dim in shape " + shape_tuple(shape));
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
    // numpy pads with spaces so that magic + version + length + header (ending in '\n') is a
    // multiple of 64 bytes.
    const size_t total = ((10 + header.size() + 1 + 63) / 64) * 64;
    if (total - 10 > 65535) throw std::invalid_argument("npy: header too long for version 1.0");
    header.append(total - 10 - header.size() - 1, ' ');
    header.push_back('\n');
    std::string out(kNpyMagic, 6);
    out.push_back('\x01');
    out.push_back('\x00');
    out.push_back(char(header.size() & 0xff));
    out.push_back(char(header.size() >> 8));
    return out + header;
}

std::string encode_npy(const float* data, const std::vector<int64_t>& shape) {
    std::string out = npy_header("<f4", shape);
    size_t count = 1;
    for (int64_t d : shape) count *= (size_t)d;
    if (count) out.append((const char*)data, count * sizeof(float));
    return out;
}

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
    std::string bytes = encode_npy(data, shape);
    AtomicFileWriter w(path, "npy file");
    w.write(bytes.data(), bytes.size());
    w.commit();
}

void write_npy(const std::string& path, const NamedTensor& t) {
    if (t.data.size() != t.count())
        throw std::invalid_argument("npy file '" + path + "': tensor '" + t.name + "' has shape " + t.shape_str() +
                                    " but " + std::to_string(t.data.size()) + " values");
    write_npy(path, t.data.data(), t.dims);
}

void write_npy(const std::string& path, const Tensor& t) {
    const Shape& s = t.shape();
    write_npy(path, t.data(), {s.n, s.c, s.h, s.w});
}

}  // namespace dlbhc
