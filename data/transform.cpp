// data/transform.cpp -- resize, crop, mirror, mean, scale (see transform.h).
#include "data/transform.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "data/resize.h"

namespace dlbhc {

namespace {

std::string chw(int c, int h, int w) {
    return "(" + std::to_string(c) + ", " + std::to_string(h) + ", " + std::to_string(w) + ")";
}

[[noreturn]] void bad(const std::string& msg) { throw std::invalid_argument("transform: " + msg); }

}  // namespace

Transformer::Transformer(TransformParam p) : p_(std::move(p)) {
    if (p_.resize < 0 || p_.crop < 0)
        bad("expected resize >= 0 and crop >= 0, found resize " + std::to_string(p_.resize) + ", crop " +
            std::to_string(p_.crop));
    if (p_.resize > 0 && p_.crop > p_.resize)
        bad("crop " + std::to_string(p_.crop) + " is larger than the resized image " + std::to_string(p_.resize));
    if (!std::isfinite(p_.scale)) bad("scale must be finite");
    if (!p_.mean_image.empty() && !p_.mean_values.empty())
        bad("give either a mean image or mean values, not both (as Caffe)");
    if (!p_.mean_image.empty() &&
        (p_.mean_c < 1 || p_.mean_h < 1 || p_.mean_w < 1 ||
         (size_t)p_.mean_c * p_.mean_h * p_.mean_w != p_.mean_image.size()))
        bad("the mean image has " + std::to_string(p_.mean_image.size()) + " values, expected mean_c * mean_h * mean_w for " +
            chw(p_.mean_c, p_.mean_h, p_.mean_w));
}

void Transformer::source_dims(int h, int w, int& sh, int& sw) const {
    if (p_.resize > 0) {
        sh = sw = p_.resize;
    } else if (p_.crop > 0 && (h < p_.crop || w < p_.crop)) {
        if (!p_.upscale_small)
            bad("image of " + std::to_string(h) + " x " + std::to_string(w) + " is smaller than the crop " +
                std::to_string(p_.crop) + " (set resize, or upscale_small)");
        sh = sw = p_.crop;
    } else {
        sh = h, sw = w;
    }
}

void Transformer::output_dims(int c, int h, int w, int& oc, int& oh, int& ow) const {
    if (c < 1 || h < 1 || w < 1) bad("expected a non-empty image, found " + chw(c, h, w));
    int sh, sw;
    source_dims(h, w, sh, sw);
    oc = (p_.force_color && c == 1) ? 3 : c;
    oh = p_.crop > 0 ? p_.crop : sh;
    ow = p_.crop > 0 ? p_.crop : sw;
}

Augment Transformer::draw(int sh, int sw, Rng& rng) const {
    Augment a;
    if (p_.crop > 0 && (sh < p_.crop || sw < p_.crop))
        bad("source of " + std::to_string(sh) + " x " + std::to_string(sw) + " is smaller than the crop " +
            std::to_string(p_.crop));
    if (p_.crop > 0) {
        if (p_.phase == Phase::Train) {
            a.h_off = (int)rng.below((uint32_t)(sh - p_.crop + 1));
            a.w_off = (int)rng.below((uint32_t)(sw - p_.crop + 1));
        } else {
            a.h_off = (sh - p_.crop) / 2;
            a.w_off = (sw - p_.crop) / 2;
        }
    }
    if (p_.phase == Phase::Train && p_.mirror) a.mirror = rng.below(2) == 1;
    return a;
}

const Image& Transformer::source(const Image& in, Image& scratch) const {
    int sh, sw;
    source_dims(in.h, in.w, sh, sw);
    if (sh == in.h && sw == in.w) return in;
    resize_bilinear(in, sh, sw, scratch);
    return scratch;
}

void Transformer::apply(const Image& in, const Augment& a, float* out, Image& scratch) const {
    if (in.pixels.size() != in.count()) bad("image data has " + std::to_string(in.pixels.size()) + " bytes, expected " +
                                            std::to_string(in.count()) + " for " + chw(in.c, in.h, in.w));
    int oc, oh, ow;
    output_dims(in.c, in.h, in.w, oc, oh, ow);
    const Image& src = source(in, scratch);
    if (a.h_off < 0 || a.w_off < 0 || a.h_off + oh > src.h || a.w_off + ow > src.w)
        bad("crop " + std::to_string(oh) + " x " + std::to_string(ow) + " at (" + std::to_string(a.h_off) + ", " +
            std::to_string(a.w_off) + ") does not fit the source of " + std::to_string(src.h) + " x " +
            std::to_string(src.w));
    const float* mimg = nullptr;
    if (!p_.mean_image.empty()) {
        if (p_.mean_c != oc || p_.mean_h != src.h || p_.mean_w != src.w)
            bad("the mean image is " + chw(p_.mean_c, p_.mean_h, p_.mean_w) + " but the image to crop is " +
                chw(oc, src.h, src.w) + " (it must have the size after resizing)");
        mimg = p_.mean_image.data();
    }
    const size_t nmv = p_.mean_values.size();
    if (nmv != 0 && nmv != 1 && nmv != (size_t)oc)
        bad(std::to_string(nmv) + " mean values for an image of " + std::to_string(oc) +
            " channels (expected 1 or one per channel)");

    const float scale = p_.scale;
    for (int c = 0; c < oc; ++c) {
        const int sc = src.c == 1 ? 0 : c;
        const float mv = nmv == 0 ? 0.0f : p_.mean_values[nmv == 1 ? 0 : c];
        for (int y = 0; y < oh; ++y) {
            const int sy = a.h_off + y;
            const uint8_t* srow = src.pixels.data() + ((size_t)sc * src.h + sy) * src.w + a.w_off;
            const float* mrow = mimg ? mimg + ((size_t)c * src.h + sy) * src.w + a.w_off : nullptr;
            float* orow = out + ((size_t)c * oh + y) * ow;
            for (int x = 0; x < ow; ++x) {
                const int xs = a.mirror ? ow - 1 - x : x;
                const float m = mrow ? mrow[xs] : mv;
                orow[x] = ((float)srow[xs] - m) * scale;
            }
        }
    }
}

void Transformer::apply(const Image& in, Rng& rng, float* out, Image& scratch) const {
    int sh, sw;
    source_dims(in.h, in.w, sh, sw);
    apply(in, draw(sh, sw, rng), out, scratch);
}

}  // namespace dlbhc
