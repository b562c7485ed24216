// data/stb_impl.cpp -- the one translation unit that compiles stb_image and stb_image_write.
//
// stb_image is built with only its JPEG and PNG decoders (STBI_ONLY_*), which also brings in its
// zlib decoder (PNG needs it; data/gzip.cpp uses it for .gz files). STBI_MAX_DIMENSIONS rejects
// absurd header sizes inside stb itself; data/image_io.cpp additionally checks the pixel count
// from stbi_info before decoding. Everything else includes the headers for declarations only.
// The headers are third-party code: their warnings are not ours to fix, so they are silenced here
// and only here.
#include "data/image_io.h"  // kStbMaxDimension

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
