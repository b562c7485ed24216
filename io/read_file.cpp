// io/read_file.cpp -- whole-file reads with a size limit (see read_file.h).
#include "io/read_file.h"

#include "io/file_io.h"

namespace dlbhc {

std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what, uint64_t max_bytes) {
    return InputFile(path, what + " '" + path + "'").read_all(max_bytes);
}

}  // namespace dlbhc
