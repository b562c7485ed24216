// data/image.h -- an 8-bit image in planar (C, H, W) order, the form every dataset hands out.
//
// Pixel (c, y, x) is pixels[(c * h + y) * w + x]. Colour images are stored B, G, R (channel 0 is
// blue), as Caffe stores them, so that a per-channel mean given in Caffe's order
// (mean_value: 104, 117, 123) applies unchanged. Grey images have one channel.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dlbhc {

struct Image {
    int c = 0, h = 0, w = 0;
    std::vector<uint8_t> pixels;  // c * h * w bytes

    Image() = default;
    Image(int c_, int h_, int w_) : c(c_), h(h_), w(w_), pixels((size_t)c_ * h_ * w_) {}
    size_t count() const { return (size_t)c * h * w; }
    uint8_t& at(int ch, int y, int x) { return pixels[((size_t)ch * h + y) * w + x]; }
    uint8_t at(int ch, int y, int x) const { return pixels[((size_t)ch * h + y) * w + x]; }
    // Sets the size; the pixels vector keeps its capacity, so reusing an Image does not allocate.
    void resize(int c_, int h_, int w_) {
        c = c_, h = h_, w = w_;
        pixels.resize(count());
    }
};

}  // namespace dlbhc
