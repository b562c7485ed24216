// data/image_io.h -- decoding JPEG and PNG files into Images, and writing PNG/JPEG files.
//
// Decoding uses stb_image (compiled in data/stb_impl.cpp with only its JPEG and PNG decoders).
// Before any pixel memory is allocated, the header is read with stbi_info and the image is
// refused when width * height exceeds a pixel limit (default kDefaultMaxPixels; configurable per
// call), so a forged header cannot make us allocate gigabytes. stb itself also refuses any side
// longer than kStbMaxDimension.
// Colour conversion: colour output is 3 channels B, G, R (planar, data/image.h); a grey file is
// copied to all three; an alpha channel is dropped (not composited). Grey output (colour = false)
// is stb's luminance conversion of a colour file, or the grey values themselves.
// stb_image is thread-safe for these calls (its error string is thread-local), so datasets may
// decode from several threads at once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image.h"

namespace dlbhc {

// Longest side stb accepts (STBI_MAX_DIMENSIONS); JPEG cannot exceed 65535 anyway.
constexpr int kStbMaxDimension = 1 << 16;
// Default pixel-count limit: 64 Mpx (192 MB as 8-bit BGR).
constexpr uint64_t kDefaultMaxPixels = 1ull << 26;

struct ImageInfo {
    int width = 0, height = 0;
    int channels = 0;  // as stored in the file: 1 grey, 2 grey+alpha, 3 colour, 4 colour+alpha
};

// Reads only the header of `path`. Returns true and fills `info` for a JPEG or PNG file whose
// width * height <= max_pixels; otherwise returns false with the reason in `why` (cannot open,
// not a JPEG/PNG or corrupt header, too many pixels). Never throws for a bad file.
bool probe_image_file(const std::string& path, ImageInfo& info, std::string& why,
                      uint64_t max_pixels = kDefaultMaxPixels);

// Decodes `path` into `out` (3 channels BGR when colour, else 1 grey channel). Throws
// std::runtime_error naming the file and the decoder's reason when the file cannot be read, is
// not a JPEG or PNG, has more than max_pixels pixels, or is corrupt or truncated.
void load_image(const std::string& path, Image& out, bool colour = true, uint64_t max_pixels = kDefaultMaxPixels);

// As load_image, with the channels the file stores: 1 for a grey file (with or without alpha), 3
// (BGR) for a colour one. For a lone image whose channel count matters (encode, query).
void load_image_as_stored(const std::string& path, Image& out, uint64_t max_pixels = kDefaultMaxPixels);

// The same for an encoded file already in memory (n bytes at data); `name` starts error messages.
void decode_image(const uint8_t* data, size_t n, const std::string& name, Image& out, bool colour = true,
                  uint64_t max_pixels = kDefaultMaxPixels);

// Writes an image with 1 (grey) or 3 (BGR) channels as PNG, or as JPEG of quality 1..100,
// through the atomic writer (io/file_io.h). Throws std::invalid_argument for another channel
// count or an empty image, std::runtime_error naming the file when writing fails.
void save_png(const std::string& path, const Image& img);
void save_jpeg(const std::string& path, const Image& img, int quality = 90);

}  // namespace dlbhc
