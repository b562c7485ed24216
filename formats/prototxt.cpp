// formats/prototxt.cpp -- tokenizer, recursive-descent parser and typed getters of the text format.
// See prototxt.h for the grammar.
#include "formats/prototxt.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "io/file_io.h"

namespace dlbhc {

std::string PtxLocation::str() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

void ptx_fail(const PtxLocation& loc, const std::string& msg) {
    throw std::runtime_error(loc.str() + ": " + msg);
}

namespace {

// ---- tokenizer -------------------------------------------------------------------------------

struct Token {
    enum Kind { End, Identifier, Number, String, Symbol } kind = End;
    std::string text;  // identifier / number as written; string decoded; symbol: the character
    std::string raw;   // string tokens: the source text (for error messages)
    int line = 1, col = 1;
};

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

bool iequals(const std::string& a, const char* b) {
    size_t n = std::strlen(b);
    if (a.size() != n) return false;
    for (size_t i = 0; i < n; ++i) {
        char x = a[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (x != b[i]) return false;
    }
    return true;
}

bool is_inf_or_nan(const std::string& s) { return iequals(s, "inf") || iequals(s, "infinity") || iequals(s, "nan"); }

// Whether `s` (without a leading '-') is a valid integer: 0x hex, 0-prefixed octal or decimal.
bool is_integer_text(const std::string& s) {
    if (s.empty()) return false;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (size_t i = 2; i < s.size(); ++i)
            if (!std::isxdigit((unsigned char)s[i])) return false;
        return true;
    }
    if (s[0] == '0') {
        for (char c : s)
            if (c < '0' || c > '7') return false;
        return true;
    }
    for (char c : s)
        if (!is_digit(c)) return false;
    return true;
}

// Whether `s` (without a leading '-') is a valid float: digits [. digits] [e[+-]digits] [f],
// with at least one mantissa digit.
bool is_float_text(const std::string& s) {
    size_t i = 0, n = s.size(), mant = 0;
    while (i < n && is_digit(s[i])) ++i, ++mant;
    if (i < n && s[i] == '.') {
        ++i;
        while (i < n && is_digit(s[i])) ++i, ++mant;
    }
    if (mant == 0) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
        size_t exp = 0;
        while (i < n && is_digit(s[i])) ++i, ++exp;
        if (exp == 0) return false;
    }
    if (i < n && (s[i] == 'f' || s[i] == 'F')) ++i;
    return i == n;
}

std::string printable_char(char c) {
    if (c >= 32 && c < 127) return std::string("'") + c + "'";
    char buf[16];
    std::snprintf(buf, sizeof buf, "byte 0x%02x", (unsigned)(unsigned char)c);
    return buf;
}

class Tokenizer {
public:
    Tokenizer(const std::string& text, const std::string& file) : s_(text), file_(file) {}

    Token next() {
        skip_space_and_comments();
        Token t;
        t.line = line_;
        t.col = col_;
        if (pos_ >= s_.size()) return t;  // End
        const char c = s_[pos_];
        if (is_ident_start(c)) {
            t.kind = Token::Identifier;
            while (pos_ < s_.size() && is_ident_char(s_[pos_])) t.text += take();
            return t;
        }
        if (is_digit(c) || c == '.' || c == '-') return number(t);
        if (c == '"' || c == '\'') return string(t);
        if (c != '\0' && std::strchr("{}<>[]:,;", c)) {  // strchr would match the terminator
            t.kind = Token::Symbol;
            t.text = take();
            return t;
        }
        fail_at(t, "unexpected character " + printable_char(c));
    }

    [[noreturn]] void fail_at(const Token& t, const std::string& msg) const {
        ptx_fail(PtxLocation{file_, t.line, t.col}, msg);
    }

private:
    char take() {
        char c = s_[pos_++];
        if (c == '\n') {
            ++line_;
            col_ = 1;
        } else {
            ++col_;
        }
        return c;
    }
    char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

    void skip_space_and_comments() {
        while (pos_ < s_.size()) {
            char c = s_[pos_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
                take();
            } else if (c == '#') {
                while (pos_ < s_.size() && s_[pos_] != '\n') take();
            } else {
                break;
            }
        }
    }

    // A number: the maximal run of letters, digits, '.', '_' (and a sign right after an exponent
    // 'e' of a non-hex number), then checked against the integer and float grammars, so that
    // "12x" or "1.2.3" is one bad token rather than a number followed by something else.
    Token number(Token& t) {
        t.kind = Token::Number;
        if (peek() == '-') {
            t.text += take();
            if (!(is_ident_char(peek()) || peek() == '.')) fail_at(t, "unexpected character '-' (a number must follow)");
        }
        const bool hex = peek() == '0' && (peek(1) == 'x' || peek(1) == 'X');
        const bool numeric_start = is_digit(peek()) || peek() == '.';  // not -inf / -nan
        while (pos_ < s_.size()) {
            char c = s_[pos_];
            char prev = t.text.empty() ? '\0' : t.text.back();
            if (is_ident_char(c) || c == '.') {
                t.text += take();
            } else if ((c == '+' || c == '-') && !hex && (prev == 'e' || prev == 'E') && numeric_start) {
                t.text += take();
            } else {
                break;
            }
        }
        const std::string body = t.text[0] == '-' ? t.text.substr(1) : t.text;
        if (!(is_integer_text(body) || is_float_text(body) || (t.text[0] == '-' && is_inf_or_nan(body))))
            fail_at(t, "bad number '" + t.text + "'");
        return t;
    }

    // A quoted string with C escapes; the opening quote's position is the token's.
    Token string(Token& t) {
        t.kind = Token::String;
        const char quote = take();
        t.raw += quote;
        while (true) {
            if (pos_ >= s_.size() || s_[pos_] == '\n')
                fail_at(t, "unterminated string (no closing " + std::string(1, quote) + " before the end of the " +
                               (pos_ >= s_.size() ? "file" : "line") + ")");
            char c = take();
            t.raw += c;
            if (c == quote) return t;
            if (c != '\\') {
                t.text += c;
                continue;
            }
            if (pos_ >= s_.size()) continue;  // reported as unterminated above
            const int eline = line_, ecol = col_ - 1;
            char e = take();
            t.raw += e;
            switch (e) {
                case 'n': t.text += '\n'; break;
                case 't': t.text += '\t'; break;
                case 'r': t.text += '\r'; break;
                case 'a': t.text += '\a'; break;
                case 'b': t.text += '\b'; break;
                case 'f': t.text += '\f'; break;
                case 'v': t.text += '\v'; break;
                case '\\': case '\'': case '"': case '?': t.text += e; break;
                case 'x': case 'X': {
                    int v = 0, digits = 0;
                    while (digits < 2 && std::isxdigit((unsigned char)peek())) {
                        char h = take();
                        t.raw += h;
                        v = v * 16 + (is_digit(h) ? h - '0' : (std::tolower((unsigned char)h) - 'a' + 10));
                        ++digits;
                    }
                    if (!digits) ptx_fail(PtxLocation{file_, eline, ecol}, "bad escape '\\x' (hex digits must follow)");
                    t.text += (char)v;
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        int v = e - '0', digits = 1;
                        while (digits < 3 && peek() >= '0' && peek() <= '7') {
                            char o = take();
                            t.raw += o;
                            v = v * 8 + (o - '0');
                            ++digits;
                        }
                        if (v > 255) ptx_fail(PtxLocation{file_, eline, ecol}, "octal escape larger than \\377");
                        t.text += (char)v;
                    } else {
                        ptx_fail(PtxLocation{file_, eline, ecol}, "unknown escape '\\" + std::string(1, e) + "' in string");
                    }
            }
        }
    }

    const std::string& s_;
    const std::string& file_;
    size_t pos_ = 0;
    int line_ = 1, col_ = 1;
};

// ---- parser ----------------------------------------------------------------------------------

std::string describe_token(const Token& t) {
    switch (t.kind) {
        case Token::End: return "end of file";
        case Token::String: return "string " + (t.raw.size() > 40 ? t.raw.substr(0, 37) + "..." : t.raw);
        case Token::Number: return "number '" + t.text + "'";
        case Token::Identifier: return "'" + t.text + "'";
        case Token::Symbol: return "'" + t.text + "'";
    }
    return "?";
}

class Parser {
public:
    Parser(const std::string& text, const std::string& file, const PrototxtLimits& limits)
        : tok_(text, file), file_(file), limits_(limits) {
        advance();
    }

    PtxMessage parse_root() {
        PtxMessage root;
        root.loc = PtxLocation{file_, 1, 1};
        parse_fields(root, "", 0);
        return root;
    }

private:
    void advance() { cur_ = tok_.next(); }
    bool is_symbol(char c) const { return cur_.kind == Token::Symbol && cur_.text[0] == c; }
    PtxLocation here() const { return PtxLocation{file_, cur_.line, cur_.col}; }

    // Fields until `close` (a symbol) or, for the root (close == 0), the end of the file.
    void parse_fields(PtxMessage& msg, const std::string& path, char close) {
        while (true) {
            if (close == 0 && cur_.kind == Token::End) return;
            if (close != 0 && is_symbol(close)) {
                advance();
                return;
            }
            if (cur_.kind == Token::End)
                ptx_fail(here(), std::string("expected '") + close + "' (to close the message opened at " +
                                     std::to_string(msg.loc.line) + ":" + std::to_string(msg.loc.col) +
                                     ") but found end of file");
            if (is_symbol('['))
                ptx_fail(here(), "extension fields ('[...]') are not supported");
            if (cur_.kind != Token::Identifier)
                ptx_fail(here(), std::string("expected a field name") + (close ? std::string(" or '") + close + "'" : "") +
                                     " but found " + describe_token(cur_));
            parse_field(msg, path);
            if (is_symbol(',') || is_symbol(';')) advance();
        }
    }

    void parse_field(PtxMessage& msg, const std::string& path) {
        PtxField f;
        f.name = cur_.text;
        f.loc = here();
        advance();
        bool colon = false;
        if (is_symbol(':')) {
            colon = true;
            advance();
        }
        if (is_symbol('{') || is_symbol('<')) {
            msg.fields.push_back(std::move(f));
            parse_submessage(msg.fields.back(), path);
            return;
        }
        if (!colon)
            ptx_fail(here(), "expected ':' or '{' after field name '" + f.name + "' but found " + describe_token(cur_));
        if (is_symbol('[')) {
            parse_list(msg, f, path);
            return;
        }
        parse_scalar(f);
        msg.fields.push_back(std::move(f));
    }

    // `name: [v, v, ...]` or `name: [{...}, {...}]`: one entry per element.
    void parse_list(PtxMessage& msg, const PtxField& proto, const std::string& path) {
        advance();  // '['
        if (is_symbol(']')) {
            advance();
            return;
        }
        while (true) {
            PtxField f;
            f.name = proto.name;
            f.loc = here();
            if (is_symbol('{') || is_symbol('<')) {
                msg.fields.push_back(std::move(f));
                parse_submessage(msg.fields.back(), path);
            } else {
                parse_scalar(f);
                msg.fields.push_back(std::move(f));
            }
            if (is_symbol(',')) {
                advance();
                continue;
            }
            if (is_symbol(']')) {
                advance();
                return;
            }
            ptx_fail(here(), "expected ',' or ']' in the list of '" + proto.name + "' but found " + describe_token(cur_));
        }
    }

    void parse_scalar(PtxField& f) {
        switch (cur_.kind) {
            case Token::Number:
                f.kind = PtxField::Number;
                f.text = cur_.text;
                advance();
                return;
            case Token::Identifier:
                f.kind = PtxField::Identifier;
                f.text = cur_.text;
                advance();
                return;
            case Token::String:
                f.kind = PtxField::String;
                while (cur_.kind == Token::String) {  // "a" "b" is "ab"
                    f.text += cur_.text;
                    advance();
                }
                return;
            default:
                ptx_fail(here(), "expected a value for field '" + f.name + "' but found " + describe_token(cur_));
        }
    }

    void parse_submessage(PtxField& f, const std::string& path) {
        const char close = is_symbol('{') ? '}' : '>';
        const int depth = (int)depth_ + 1;
        if (depth > limits_.max_depth)
            ptx_fail(here(), "messages nested deeper than " + std::to_string(limits_.max_depth) + " levels (field '" +
                                 f.name + "')");
        f.kind = PtxField::Message;
        f.message.loc = here();
        f.message.path = path.empty() ? f.name : path + "." + f.name;
        advance();
        ++depth_;
        parse_fields(f.message, f.message.path, close);
        --depth_;
    }

    Tokenizer tok_;
    const std::string& file_;
    PrototxtLimits limits_;
    Token cur_;
    size_t depth_ = 0;
};

// ---- conversions -----------------------------------------------------------------------------

// Parses an integer token ("-0x1F", "017", "42") into v; false on overflow or bad syntax.
bool parse_int64(const std::string& text, int64_t& v) {
    bool neg = !text.empty() && text[0] == '-';
    std::string s = neg ? text.substr(1) : text;
    if (!is_integer_text(s)) return false;
    int base = 10;
    size_t start = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        start = 2;
    } else if (s.size() > 1 && s[0] == '0') {
        base = 8;
        start = 1;
    }
    uint64_t mag = 0;
    auto r = std::from_chars(s.data() + start, s.data() + s.size(), mag, base);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (mag > limit) return false;
    v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return true;
}

}  // namespace

// ---- PtxField --------------------------------------------------------------------------------

void PtxField::fail(const std::string& msg) const { ptx_fail(loc, "field '" + name + "' " + msg); }

std::string PtxField::describe() const {
    switch (kind) {
        case Number: return "number " + text;
        case Identifier: return "identifier " + text;
        case String: return "string \"" + (text.size() > 40 ? text.substr(0, 37) + "..." : text) + "\"";
        case Message: return "a message { ... }";
    }
    return "?";
}

int64_t PtxField::as_int64() const {
    int64_t v = 0;
    if (kind != Number) fail("expects an integer but holds " + describe());
    if (!parse_int64(text, v)) {
        const std::string body = text[0] == '-' ? text.substr(1) : text;
        if (is_integer_text(body)) fail("expects a 64-bit integer but " + text + " is out of range");
        fail("expects an integer but holds " + describe());
    }
    return v;
}

int PtxField::as_int() const {
    int64_t v = as_int64();
    if (v < INT_MIN || v > INT_MAX) fail("expects a 32-bit integer but " + text + " is out of range");
    return (int)v;
}

double PtxField::as_double() const {
    if (kind == Identifier && is_inf_or_nan(text))
        return iequals(text, "nan") ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
    if (kind != Number) fail("expects a number but holds " + describe());
    const bool neg = text[0] == '-';
    std::string body = neg ? text.substr(1) : text;
    if (is_inf_or_nan(body)) {
        double v = iequals(body, "nan") ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
        return neg ? -v : v;
    }
    int64_t iv = 0;
    if (is_integer_text(body) && (body.size() > 1 && body[0] == '0') && parse_int64(text, iv)) return (double)iv;  // hex / octal
    if (!body.empty() && (body.back() == 'f' || body.back() == 'F')) body.pop_back();
    double v = 0;
    auto r = std::from_chars(body.data(), body.data() + body.size(), v);
    if (r.ptr != body.data() + body.size() || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range))
        fail("expects a number but holds " + describe());
    if (r.ec == std::errc::result_out_of_range) fail("holds " + text + ", which is out of the range of a double");
    return neg ? -v : v;
}

float PtxField::as_float() const {
    double v = as_double();
    if (std::isfinite(v) && std::fabs(v) > (double)std::numeric_limits<float>::max())
        fail("holds " + text + ", which is out of the range of a float");
    return (float)v;
}

const std::string& PtxField::as_string() const {
    if (kind != String) fail("expects a quoted string but holds " + describe());
    return text;
}

bool PtxField::as_bool() const {
    if (kind == Identifier) {
        if (text == "true" || text == "True" || text == "t") return true;
        if (text == "false" || text == "False" || text == "f") return false;
    } else if (kind == Number) {
        if (text == "1") return true;
        if (text == "0") return false;
    }
    fail("expects true or false but holds " + describe());
}

std::string PtxField::as_enum() const {
    if (kind == Identifier) return text;
    if (kind == Number) return std::to_string(as_int());
    fail("expects an enum value (an identifier such as MAX) but holds " + describe());
}

const PtxMessage& PtxField::as_message() const {
    if (kind != Message) fail("expects a message { ... } but holds " + describe());
    return message;
}

// ---- PtxMessage ------------------------------------------------------------------------------

int PtxMessage::count(const std::string& name) const {
    int n = 0;
    for (const auto& f : fields) n += f.name == name;
    return n;
}

const PtxField* PtxMessage::find(const std::string& name) const {
    const PtxField* found = nullptr;
    for (const auto& f : fields) {
        if (f.name != name) continue;
        if (found)
            ptx_fail(f.loc, "field '" + name + "' is given again (first at " + std::to_string(found->loc.line) + ":" +
                                std::to_string(found->loc.col) + ") but may appear only once");
        found = &f;
    }
    return found;
}

std::vector<const PtxField*> PtxMessage::all(const std::string& name) const {
    std::vector<const PtxField*> v;
    for (const auto& f : fields)
        if (f.name == name) v.push_back(&f);
    return v;
}

int64_t PtxMessage::get_int64(const std::string& name, int64_t def) const {
    const PtxField* f = find(name);
    return f ? f->as_int64() : def;
}
int PtxMessage::get_int(const std::string& name, int def) const {
    const PtxField* f = find(name);
    return f ? f->as_int() : def;
}
double PtxMessage::get_double(const std::string& name, double def) const {
    const PtxField* f = find(name);
    return f ? f->as_double() : def;
}
float PtxMessage::get_float(const std::string& name, float def) const {
    const PtxField* f = find(name);
    return f ? f->as_float() : def;
}
std::string PtxMessage::get_string(const std::string& name, const std::string& def) const {
    const PtxField* f = find(name);
    return f ? f->as_string() : def;
}
bool PtxMessage::get_bool(const std::string& name, bool def) const {
    const PtxField* f = find(name);
    return f ? f->as_bool() : def;
}
std::string PtxMessage::get_enum(const std::string& name, const std::string& def) const {
    const PtxField* f = find(name);
    return f ? f->as_enum() : def;
}
const PtxMessage* PtxMessage::get_message(const std::string& name) const {
    const PtxField* f = find(name);
    return f ? &f->as_message() : nullptr;
}

std::vector<int64_t> PtxMessage::get_int64s(const std::string& name) const {
    std::vector<int64_t> v;
    for (const PtxField* f : all(name)) v.push_back(f->as_int64());
    return v;
}
std::vector<int> PtxMessage::get_ints(const std::string& name) const {
    std::vector<int> v;
    for (const PtxField* f : all(name)) v.push_back(f->as_int());
    return v;
}
std::vector<float> PtxMessage::get_floats(const std::string& name) const {
    std::vector<float> v;
    for (const PtxField* f : all(name)) v.push_back(f->as_float());
    return v;
}
std::vector<std::string> PtxMessage::get_strings(const std::string& name) const {
    std::vector<std::string> v;
    for (const PtxField* f : all(name)) v.push_back(f->as_string());
    return v;
}
std::vector<const PtxMessage*> PtxMessage::get_messages(const std::string& name) const {
    std::vector<const PtxMessage*> v;
    for (const PtxField* f : all(name)) v.push_back(&f->as_message());
    return v;
}

void PtxMessage::check_fields(const std::vector<std::string>& known, const std::string& what) const {
    for (const auto& f : fields) {
        bool ok = false;
        for (const auto& k : known) ok = ok || k == f.name;
        if (ok) continue;
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        ptx_fail(f.loc, "unknown field '" + f.name + "' in " + what + " (known: " + (list.empty() ? "none" : list) + ")");
    }
}

void PtxMessage::check_singular(const std::vector<std::string>& names) const {
    for (const auto& n : names) find(n);  // find() throws on a repeat
}

// ---- entry points ----------------------------------------------------------------------------

PtxMessage parse_prototxt(const std::string& text, const std::string& file_name, const PrototxtLimits& limits) {
    if (text.size() > limits.max_bytes)
        throw std::runtime_error(file_name + ": text is " + std::to_string(text.size()) + " bytes, larger than the limit of " +
                                 std::to_string(limits.max_bytes) + " bytes");
    Parser p(text, file_name, limits);
    return p.parse_root();
}

namespace {

// What a file that is not text is, from its first bytes; "" when it looks like text. dlbhc's own
// files by their magic (each written beside its reader: formats/weights_file.h for weights,
// snapshots and converted means; search/index_file.h; formats/npy.h; search/faiss_export.h;
// tests/apps/test_guiding_messages.cpp writes each and checks the name), then pictures and gzip, then
// any other file with a NUL or a control byte in its first 4 KiB (a .caffemodel or an .onnx file
// is binary protobuf), which the tokenizer would report as a puzzling "unexpected character".
// *weights tells whether it is a weights file (which a caller may have swapped with its net).
std::string binary_kind(const std::vector<uint8_t>& b, bool* weights) {
    struct Magic {
        const char* bytes;
        size_t n;
        const char* kind;
    };
    static const Magic kMagics[] = {
        {"DLBHCWTS", 8, "a dlbhc weights file (weights, a training snapshot or a converted mean)"},
        {"DLBHCIDX", 8, "a dlbhc index"},
        {"\x93NUMPY", 6, "a NumPy .npy file"},
        {"IBxF", 4, "a FAISS binary index (dlbhc export --format faiss)"},
        {"\x89PNG", 4, "a PNG image"},
        {"\xff\xd8\xff", 3, "a JPEG image"},
        {"\x1f\x8b", 2, "a gzip file"},
    };
    *weights = false;
    for (const Magic& m : kMagics)
        if (b.size() >= m.n && std::memcmp(b.data(), m.bytes, m.n) == 0) {
            *weights = &m == &kMagics[0];
            return m.kind;
        }
    for (size_t i = 0; i < b.size() && i < 4096; ++i) {
        const uint8_t c = b[i];
        if (c == 0 || c == 0x7f || (c < 0x20 && !std::strchr("\t\n\r\f\v", c)))
            return "a binary file (at offset " + std::to_string(i) + ": " + printable_char(char(c)) +
                   "; .caffemodel and .onnx files are binary: `dlbhc convert` reads them)";
    }
    return "";
}

}  // namespace

PtxMessage load_prototxt(const std::string& path, const PrototxtLimits& limits, const std::string& expected,
                         const std::string& weights_hint) {
    InputFile in(path, path);
    if (in.size() > limits.max_bytes)
        throw std::runtime_error(path + ": file is " + std::to_string(in.size()) + " bytes, larger than the limit of " +
                                 std::to_string(limits.max_bytes) + " bytes for a prototxt file");
    const std::vector<uint8_t> bytes = in.read_all(limits.max_bytes);
    bool weights = false;
    const std::string kind = binary_kind(bytes, &weights);
    if (!kind.empty())
        throw std::runtime_error("'" + path + "' is " + kind + ", not " + expected + " (a prototxt, Caffe's text format)" +
                                 (weights && !weights_hint.empty() ? "; " + weights_hint : ""));
    return parse_prototxt(std::string(bytes.begin(), bytes.end()), path, limits);
}

}  // namespace dlbhc
