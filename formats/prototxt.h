// formats/prototxt.h -- a reader for the protocol-buffer *text format* (Caffe's .prototxt), written
// from the format's description without libprotobuf.
//
// The reader knows no schema: it turns the text into a generic tree, and the code that knows the
// schema (nn/caffe_spec, nn/solver_spec) walks the tree, converts values and rejects fields it does
// not know. Every field remembers file, line and column, so every later error can point at the
// offending text.
//
// Grammar accepted (the subset of protobuf's text format that .prototxt files use):
//   message  := { field [',' | ';'] }
//   field    := NAME ':' scalar
//             | NAME ':' '[' [ scalar { ',' scalar } ] ']'   (list form of a repeated field)
//             | NAME [':'] '{' message '}'                   (also '<' message '>')
//             | NAME ':' '[' msgs ']'  with msgs := '{' message '}' { ',' '{' message '}' }
//   scalar   := NUMBER | STRING { STRING } | IDENTIFIER
//   NUMBER   := ['-'] (decimal | 0x hex | octal integer | float with optional exponent and f/F suffix)
//               ('-' may also precede inf / infinity / nan, which are identifiers otherwise)
//   STRING   := "..." or '...' with C escapes \n \t \r \a \b \f \v \\ \' \" \? \ooo \xHH;
//               adjacent strings are concatenated; a raw newline inside a string is an error
//   IDENTIFIER := [A-Za-z_][A-Za-z0-9_]*  (enum values, true / false, inf, nan)
//   '#' starts a comment that runs to the end of the line.
// Repeated fields are simply repeated entries of a message, in file order. Not supported (an
// error): extensions ("[pkg.ext]"), Any expansion.
//
// Limits, checked before the text is read or the recursion goes deeper: file size
// (PrototxtLimits::max_bytes, 64 MiB) and nesting depth (max_depth, 100).
// Errors are std::runtime_error with "file:line:col: what was expected, what was found".
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dlbhc {

struct PtxLocation {
    std::string file;  // the name given to the parser (usually the path)
    int line = 0;      // 1-based
    int col = 0;       // 1-based, in bytes
    std::string str() const;  // "file:line:col"
};

struct PtxMessage;
struct PtxField;

// A message: an ordered list of fields (repeated fields appear several times).
struct PtxMessage {
    std::vector<PtxField> fields;
    PtxLocation loc;   // where the message starts ('{' or the start of the file)
    std::string path;  // dotted field path from the root, for messages ("layer.convolution_param"); "" for the root

    // Number of entries named `name`.
    int count(const std::string& name) const;
    // The entry named `name`, or null when there is none; throws when there are several
    // ("file:line:col: field 'x' is given 2 times but may appear once").
    const PtxField* find(const std::string& name) const;
    // Every entry named `name`, in file order.
    std::vector<const PtxField*> all(const std::string& name) const;

    // Singular getters: the default when the field is absent; a type error (naming file:line:col,
    // the field and the token found) when it has the wrong kind; an error when it is repeated.
    int64_t get_int64(const std::string& name, int64_t def) const;
    int get_int(const std::string& name, int def) const;  // also checks the int32 range
    double get_double(const std::string& name, double def) const;
    float get_float(const std::string& name, float def) const;  // finite values must fit in a float
    std::string get_string(const std::string& name, const std::string& def) const;
    bool get_bool(const std::string& name, bool def) const;
    // An enum value, as its identifier ("MAX"). A number is accepted too (protobuf allows it) and
    // returned as its decimal text; callers that accept numbers map them.
    std::string get_enum(const std::string& name, const std::string& def) const;
    // The sub-message, or null when absent.
    const PtxMessage* get_message(const std::string& name) const;

    // Repeated getters: every entry in file order (empty when absent).
    std::vector<int64_t> get_int64s(const std::string& name) const;
    std::vector<int> get_ints(const std::string& name) const;
    std::vector<float> get_floats(const std::string& name) const;
    std::vector<std::string> get_strings(const std::string& name) const;
    std::vector<const PtxMessage*> get_messages(const std::string& name) const;

    // Throws for the first field whose name is not in `known`:
    //   "file:line:col: unknown field 'kernel_sizee' in convolution_param (known: num_output, ...)".
    // `what` names this message in the error ("convolution_param", "layer 'conv1'").
    void check_fields(const std::vector<std::string>& known, const std::string& what) const;
    // Throws for the first field in `names` that appears more than once.
    void check_singular(const std::vector<std::string>& names) const;
};

// One field: its name, and either a scalar token or a sub-message.
struct PtxField {
    enum Kind { Number, String, Identifier, Message };
    std::string name;
    Kind kind = Number;
    std::string text;    // Number/Identifier: the token as written; String: the decoded bytes
    PtxMessage message;  // Kind Message only
    PtxLocation loc;     // where the field name starts

    // Conversions; each throws std::runtime_error naming loc, the field and what was found.
    int64_t as_int64() const;         // a decimal, hex (0x) or octal integer; no fraction
    int as_int() const;               // as_int64 within int32
    double as_double() const;         // any number, or inf / -inf / nan
    float as_float() const;           // as_double, finite values within float range
    const std::string& as_string() const;
    bool as_bool() const;             // true / false (also True/False, t/f, 1/0 as protobuf)
    std::string as_enum() const;      // an identifier, or an integer's text
    const PtxMessage& as_message() const;
    // "file:line:col: field 'name' <msg>" as a std::runtime_error.
    [[noreturn]] void fail(const std::string& msg) const;
    // "<number> 1.5", "<string> \"abc\"", "<identifier> MAX", "<message>": what the field holds.
    std::string describe() const;
};

struct PrototxtLimits {
    size_t max_bytes = size_t(64) << 20;  // largest file / text accepted
    int max_depth = 100;                  // deepest nesting of sub-messages
};

// Parses `text`; `file_name` is used in locations and errors only.
PtxMessage parse_prototxt(const std::string& text, const std::string& file_name, const PrototxtLimits& limits = {});
// Reads and parses the file at `path` (its size is checked against limits.max_bytes before reading).
// A file that is not text is refused by name before parsing: dlbhc's own files by their magic
// ("'x.weights' is a dlbhc weights file (...), not a net description (a prototxt, Caffe's text
// format); did you swap --net and --weights?"), other binary files as such. `expected` names what
// the caller wanted ("a net description"); `weights_hint` ends the message for a weights file.
PtxMessage load_prototxt(const std::string& path, const PrototxtLimits& limits = {},
                         const std::string& expected = "a text file", const std::string& weights_hint = "");

// Throws std::runtime_error("<loc>: <msg>").
[[noreturn]] void ptx_fail(const PtxLocation& loc, const std::string& msg);

}  // namespace dlbhc
