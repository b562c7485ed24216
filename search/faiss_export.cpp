// search/faiss_export.cpp -- see faiss_export.h.
#include "search/faiss_export.h"

#include <cstring>
#include <vector>

#include "io/byte_order.h"
#include "io/file_io.h"

namespace dlbhc {

void pack_code(const CodeView& codes, size_t i, uint8_t* out) {
    const uint64_t* c = codes.code(i);
    const size_t bytes = packed_code_bytes(codes.bits);
    // Shifts rather than a memcpy of the words: the same bytes on any host byte order.
    for (size_t b = 0; b < bytes; ++b) out[b] = uint8_t(c[b / 8] >> (8 * (b % 8)));
}

std::string faiss_binary_flat_header(int bits, uint64_t n) {
    const uint32_t code_size = uint32_t(packed_code_bytes(bits));
    uint8_t h[kFaissBinaryFlatHeaderBytes] = {};
    std::memcpy(h, "IBxF", 4);
    store_le32(h + 4, code_size * 8);  // d
    store_le32(h + 8, code_size);
    store_le64(h + 12, n);             // ntotal
    h[20] = 1;                         // is_trained
    store_le32(h + 21, 1);             // metric_type METRIC_L2 (FAISS's default for IndexBinary)
    store_le64(h + 25, n * code_size);  // the xb vector's size in bytes
    return std::string((const char*)h, sizeof h);
}

void write_faiss_binary_flat(const std::string& path, const CodeView& codes) {
    code_words(codes.bits);  // throws unless 1 <= bits <= kMaxCodeBits
    const std::string header = faiss_binary_flat_header(codes.bits, codes.n);
    AtomicFileWriter w(path, "FAISS index file");
    w.write(header.data(), header.size());
    std::vector<uint8_t> row(packed_code_bytes(codes.bits));
    for (size_t i = 0; i < codes.n; ++i) {
        pack_code(codes, i, row.data());
        w.write(row.data(), row.size());
    }
    w.commit();
}

}  // namespace dlbhc
