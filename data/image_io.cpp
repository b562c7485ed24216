// data/image_io.cpp -- stb_image decoding with a pixel limit, stb_image_write encoding (see image_io.h).
#include "data/image_io.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <vector>

#include "data/stb_guard.h"
#include "io/read_file.h"
#include "io/file_io.h"

namespace dlbhc {

namespace {

// How much of a file probe_image_file reads first: PNG's header is 33 bytes, a JPEG's (up to the
// frame header) is usually a few KB, longer with EXIF thumbnails or ICC profiles.
constexpr size_t kProbePrefixBytes = 256 * 1024;

std::string stb_reason() {
    const char* r = stbi_failure_reason();
    return r ? r : "no reason given";
}

std::string dims(int w, int h) { return std::to_string(w) + " x " + std::to_string(h); }

bool too_many_pixels(int w, int h, uint64_t max_pixels) { return (uint64_t)w * (uint64_t)h > max_pixels; }

// Interleaved (H, W, C) RGB or grey from stb -> planar (C, H, W), R and B swapped for colour.
void planar_bgr_from_interleaved(const uint8_t* src, int w, int h, int ch, Image& out) {
    out.resize(ch, h, w);
    const size_t plane = (size_t)h * w;
    for (int c = 0; c < ch; ++c) {
        const int from = ch == 3 ? 2 - c : c;  // B <- R's slot 2, G <- 1, R <- 0
        uint8_t* dst = out.pixels.data() + c * plane;
        for (size_t i = 0; i < plane; ++i) dst[i] = src[i * ch + from];
    }
}

// Planar (C, H, W) BGR or grey -> interleaved (H, W, C) RGB or grey, as stb_image_write wants.
std::vector<uint8_t> interleaved_rgb(const Image& img) {
    std::vector<uint8_t> out(img.count());
    const size_t plane = (size_t)img.h * img.w;
    for (int c = 0; c < img.c; ++c) {
        const int to = img.c == 3 ? 2 - c : c;
        const uint8_t* src = img.pixels.data() + c * plane;
        for (size_t i = 0; i < plane; ++i) out[i * img.c + to] = src[i];
    }
    return out;
}

void check_writable(const std::string& path, const Image& img) {
    if ((img.c != 1 && img.c != 3) || img.h <= 0 || img.w <= 0 || img.pixels.size() != img.count())
        throw std::invalid_argument("image file '" + path + "': can write 1 or 3 channel images with " +
                                    "matching pixel data, found " + std::to_string(img.c) + " channels of " +
                                    dims(img.w, img.h) + " with " + std::to_string(img.pixels.size()) + " bytes");
}

void append_bytes(void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    const uint8_t* p = static_cast<const uint8_t*>(data);
    v->insert(v->end(), p, p + size);
}

void write_encoded(const std::string& path, const std::vector<uint8_t>& bytes, bool ok) {
    if (!ok || bytes.empty()) throw std::runtime_error("image file '" + path + "': the encoder failed");
    AtomicFileWriter wr(path, "image file");
    wr.write(bytes.data(), bytes.size());
    wr.commit();
}

}  // namespace

bool probe_image_file(const std::string& path, ImageInfo& info, std::string& why, uint64_t max_pixels) {
    std::unique_ptr<InputFile> f;
    try {
        f = std::make_unique<InputFile>(path, path);
    } catch (const std::exception&) {
        struct stat st;  // say what it is when it exists (a FIFO, a folder), for the skip report
        why = "not a readable regular file";
        if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) why += " (found " + file_kind(st.st_mode) + ")";
        return false;
    }
    const uint64_t size = f->size();
    if (size > (uint64_t)INT_MAX) {
        why = "file larger than 2 GiB";
        return false;
    }
    // stbi_info needs only the header, but it must not see a JPEG whose Huffman tables would
    // overflow stb (data/stb_guard.h), and those tables may precede the frame header: read a
    // prefix, and the whole file in the rare case that the JPEG header is longer.
    std::vector<uint8_t> head(std::min<size_t>((size_t)size, kProbePrefixBytes));
    size_t got = 0;
    try {
        got = f->read(head.data(), head.size());
        if (got == head.size() && looks_like_jpeg(head.data(), got) && got < (size_t)size &&
            jpeg_header_bytes(head.data(), got) == 0) {
            head.resize((size_t)size);
            got += f->read(head.data() + got, head.size() - got);
        }
    } catch (const std::exception& e) {
        why = e.what();  // a read error (EIO)
        return false;
    }
    head.resize(got);
    if (!jpeg_tables_safe(head.data(), head.size(), why)) return false;
    int w = 0, h = 0, comp = 0;
    const int ok = stbi_info_from_memory(head.data(), (int)head.size(), &w, &h, &comp);
    if (!ok) {
        why = "not a JPEG or PNG file, or a corrupt header (decoder: " + stb_reason() + ")";
        return false;
    }
    if (too_many_pixels(w, h, max_pixels)) {
        why = "image of " + dims(w, h) + " pixels is larger than the limit of " + std::to_string(max_pixels) +
              " pixels";
        return false;
    }
    info.width = w, info.height = h, info.channels = comp;
    return true;
}

void decode_image(const uint8_t* data, size_t n, const std::string& name, Image& out, bool colour,
                  uint64_t max_pixels) {
    const std::string who = "image file '" + name + "'";
    if (n > (size_t)INT_MAX) throw std::runtime_error(who + ": larger than 2 GiB, which the decoder cannot read");
    std::string why;
    if (!stb_input_safe(data, n, why)) throw std::runtime_error(who + ": " + why);
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, (int)n, &w, &h, &comp))
        throw std::runtime_error(who + ": expected a JPEG or PNG image, found an unknown format or a corrupt " +
                                 "header (decoder: " + stb_reason() + ")");
    if (too_many_pixels(w, h, max_pixels))
        throw std::runtime_error(who + ": image of " + dims(w, h) + " pixels is larger than the limit of " +
                                 std::to_string(max_pixels) + " pixels");
    const int want = colour ? 3 : 1;
    std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(data, (int)n, &w, &h, &comp, want),
                                                 stbi_image_free);
    if (!px) throw std::runtime_error(who + ": cannot decode (decoder: " + stb_reason() + "; corrupt or truncated?)");
    planar_bgr_from_interleaved(px.get(), w, h, want, out);
}

void load_image(const std::string& path, Image& out, bool colour, uint64_t max_pixels) {
    std::vector<uint8_t> bytes = read_file_bytes(path, "image file", (uint64_t)INT_MAX);
    decode_image(bytes.data(), bytes.size(), path, out, colour, max_pixels);
}

void load_image_as_stored(const std::string& path, Image& out, uint64_t max_pixels) {
    std::vector<uint8_t> bytes = read_file_bytes(path, "image file", (uint64_t)INT_MAX);
    int w = 0, h = 0, comp = 3;
    std::string why;
    // stb reads nothing before the guard has passed the file; decode_image reports what is wrong.
    if (stb_input_safe(bytes.data(), bytes.size(), why)) stbi_info_from_memory(bytes.data(), (int)bytes.size(), &w, &h, &comp);
    decode_image(bytes.data(), bytes.size(), path, out, comp >= 3, max_pixels);
}

void save_png(const std::string& path, const Image& img) {
    check_writable(path, img);
    std::vector<uint8_t> px = interleaved_rgb(img), bytes;
    const int ok = stbi_write_png_to_func(append_bytes, &bytes, img.w, img.h, img.c, px.data(), img.w * img.c);
    write_encoded(path, bytes, ok != 0);
}

void save_jpeg(const std::string& path, const Image& img, int quality) {
    check_writable(path, img);
    if (quality < 1 || quality > 100)
        throw std::invalid_argument("image file '" + path + "': JPEG quality must be 1..100, found " +
                                    std::to_string(quality));
    std::vector<uint8_t> px = interleaved_rgb(img), bytes;
    const int ok = stbi_write_jpg_to_func(append_bytes, &bytes, img.w, img.h, img.c, px.data(), quality);
    write_encoded(path, bytes, ok != 0);
}

}  // namespace dlbhc
