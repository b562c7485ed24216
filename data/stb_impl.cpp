// data/stb_impl.cpp -- the one translation unit that compiles stb_image and stb_image_write.
//
// stb_image is built with only its JPEG and PNG decoders (STBI_ONLY_*), which also brings in its
// zlib decoder (PNG needs it; data/gzip.cpp uses it for .gz files). STBI_MAX_DIMENSIONS rejects
// absurd header sizes inside stb itself; data/image_io.cpp additionally checks the pixel count
// from stbi_info before decoding. Everything else includes the headers for declarations only.
// The headers are third-party code: their warnings are not ours to fix, so they are silenced here
// and only here.
#include "data/image_io.h"  // kStbMaxDimension

#include <cstdlib>

// Every buffer stb allocates starts zeroed. stb_image 2.27 decodes with a Huffman table that a
// scan names even when no DHT segment defined it, reading its uninitialised struct memory: the
// symbol index built from it can point past the table (found by fuzzing,
// tests/fuzz/regress/image/jpeg_undefined_huffman_table; stb 2.28 added a bounds check). A zeroed
// table decodes every code as symbol 0, inside the arrays. Growing buffers (realloc) are filled
// before they are read.
#define STBI_MALLOC(sz) std::calloc(1, (sz))
#define STBI_REALLOC(p, newsz) std::realloc((p), (newsz))
#define STBI_FREE(p) std::free(p)

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_MAX_DIMENSIONS (dlbhc::kStbMaxDimension)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop
