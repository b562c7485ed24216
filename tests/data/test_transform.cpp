// tests/data/test_transform.cpp -- bilinear resize and the Caffe-style transform (crop, mirror,
// mean image / mean values, scale, grey to colour) against hand-computed answers on tiny images.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <vector>

#include "data/resize.h"
#include "data/transform.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::contains;

namespace {

// One channel, h x w, pixel (y, x) = 10 * y + x.
Image grid(int h, int w, int channels = 1) {
    Image im(channels, h, w);
    for (int c = 0; c < channels; ++c)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) im.at(c, y, x) = (uint8_t)(10 * y + x + 50 * c);
    return im;
}

Image row(std::vector<uint8_t> v) {
    Image im(1, 1, (int)v.size());
    im.pixels = v;
    return im;
}

// The resize convention of resize.h, written directly in double precision for one pixel.
double ref_sample(const Image& in, int c, int y, int x, int oh, int ow) {
    auto axis = [](int o, int in_n, int out_n, int& i0, int& i1, double& f) {
        double s = (o + 0.5) * in_n / out_n - 0.5;
        s = std::fmin(std::fmax(s, 0.0), in_n - 1.0);
        i0 = (int)std::floor(s);
        i1 = std::min(i0 + 1, in_n - 1);
        f = s - i0;
    };
    int y0, y1, x0, x1;
    double fy, fx;
    axis(y, in.h, oh, y0, y1, fy);
    axis(x, in.w, ow, x0, x1, fx);
    const double top = (1 - fx) * in.at(c, y0, x0) + fx * in.at(c, y0, x1);
    const double bot = (1 - fx) * in.at(c, y1, x0) + fx * in.at(c, y1, x1);
    return (1 - fy) * top + fy * bot;
}

std::vector<float> run(const Transformer& t, const Image& im, const Augment& a) {
    int oc, oh, ow;
    t.output_dims(im.c, im.h, im.w, oc, oh, ow);
    std::vector<float> out((size_t)oc * oh * ow, -999.0f);
    Image scratch;
    t.apply(im, a, out.data(), scratch);
    return out;
}

}  // namespace

TEST_CASE("data/resize: known answers, rounding and clamping at the borders") {
    Image out;
    resize_bilinear(row({0, 100}), 1, 4, out);  // sx = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped)
    CHECK(out.pixels == std::vector<uint8_t>{0, 25, 75, 100});
    resize_bilinear(row({0, 2}), 1, 4, out);  // 0, 0.5, 1.5, 2: halves round up
    CHECK(out.pixels == std::vector<uint8_t>{0, 1, 2, 2});
    resize_bilinear(row({0, 10, 20, 30}), 1, 2, out);  // sx = 0.5, 2.5
    CHECK(out.pixels == std::vector<uint8_t>{5, 25});
    Image sq(1, 2, 2);
    sq.pixels = {0, 100, 200, 50};
    resize_bilinear(sq, 4, 4, out);
    CHECK(out.at(0, 0, 0) == 0);
    CHECK(out.at(0, 0, 3) == 100);
    CHECK(out.at(0, 3, 0) == 200);
    CHECK(out.at(0, 3, 3) == 50);
    CHECK(out.at(0, 1, 1) == 59);   // rows 25 and 162.5 at x 0.25, then y 0.25: 59.375
    CHECK(out.at(0, 2, 1) == 128);  // y 0.75: 128.125
    const Image g = grid(3, 5, 2);
    resize_bilinear(g, 3, 5, out);  // same size: unchanged
    CHECK(out.pixels == g.pixels);
    CHECK_THROWS_AS(resize_bilinear(g, 0, 4, out), std::invalid_argument);
}

TEST_CASE("data/resize: matches the double-precision formula on many shapes") {
    Rng rng(5);
    for (int trial = 0; trial < 30; ++trial) {
        const int h = 1 + (int)rng.below(9), w = 1 + (int)rng.below(9);
        const int oh = 1 + (int)rng.below(12), ow = 1 + (int)rng.below(12);
        Image in(2, h, w);
        for (auto& p : in.pixels) p = (uint8_t)rng.below(256);
        Image out;
        resize_bilinear(in, oh, ow, out);
        int worst = 0;
        for (int c = 0; c < 2; ++c)
            for (int y = 0; y < oh; ++y)
                for (int x = 0; x < ow; ++x) {
                    const double want = ref_sample(in, c, y, x, oh, ow);
                    const int diff = std::abs((int)out.at(c, y, x) - (int)std::floor(want + 0.5));
                    // float and double may round a value within 1e-4 of a half differently
                    if (diff > 0 && std::fabs(want - std::floor(want) - 0.5) > 1e-4) worst = std::max(worst, diff);
                }
        CAPTURE(h);
        CAPTURE(w);
        CAPTURE(oh);
        CAPTURE(ow);
        CHECK(worst == 0);
    }
}

TEST_CASE("data/transform: centre crop, given crops, mirror, on a 4 x 4 image") {
    TransformParam p;
    p.crop = 2;  // Test phase by default: centre (4 - 2) / 2 = 1
    Transformer t(p);
    const Image g = grid(4, 4);
    Rng rng(1);
    const uint64_t before = rng.s[0];
    int sh, sw;
    t.source_dims(4, 4, sh, sw);
    const Augment a = t.draw(sh, sw, rng);
    CHECK(a.h_off == 1);
    CHECK(a.w_off == 1);
    CHECK_FALSE(a.mirror);
    CHECK(rng.s[0] == before);  // a Test-phase draw takes nothing from the generator
    CHECK(run(t, g, a) == std::vector<float>{11, 12, 21, 22});

    TransformParam p3;
    p3.crop = 3;  // (4 - 3) / 2 = 0, integer division as Caffe
    Transformer t3(p3);
    Rng r3(1);
    CHECK(run(t3, g, t3.draw(4, 4, r3)) == std::vector<float>{0, 1, 2, 10, 11, 12, 20, 21, 22});

    // An explicit crop at (2, 1), mirrored: rows 2..3, columns 2, 1.
    CHECK(run(t, g, Augment{2, 1, true}) == std::vector<float>{22, 21, 32, 31});
    CHECK(run(t, g, Augment{2, 1, false}) == std::vector<float>{21, 22, 31, 32});
    CHECK_THROWS_WITH_AS(run(t, g, Augment{3, 0, false}), contains("does not fit the source"), std::invalid_argument);

    // No crop: the whole image, mirrored.
    Transformer whole{TransformParam{}};
    const std::vector<float> m = run(whole, grid(2, 3), Augment{0, 0, true});
    CHECK(m == std::vector<float>{2, 1, 0, 12, 11, 10});
}

TEST_CASE("data/transform: Train-phase draws cover every offset 0..H-crop and both mirror states") {
    TransformParam p;
    p.phase = Phase::Train;
    p.crop = 2;
    p.mirror = true;
    Transformer t(p);
    Rng rng(42);
    std::set<int> hs, ws;
    int mirrored = 0;
    for (int i = 0; i < 400; ++i) {
        const Augment a = t.draw(4, 5, rng);
        hs.insert(a.h_off);
        ws.insert(a.w_off);
        mirrored += a.mirror;
    }
    CHECK(hs == std::set<int>{0, 1, 2});
    CHECK(ws == std::set<int>{0, 1, 2, 3});
    CHECK(mirrored > 150);
    CHECK(mirrored < 250);
    // The same generator state gives the same choices.
    Rng a(7), b(7);
    for (int i = 0; i < 20; ++i) {
        const Augment x = t.draw(9, 9, a), y = t.draw(9, 9, b);
        CHECK(x.h_off == y.h_off);
        CHECK(x.w_off == y.w_off);
        CHECK(x.mirror == y.mirror);
    }
    p.mirror = false;
    Transformer nomirror(p);
    for (int i = 0; i < 50; ++i) CHECK_FALSE(nomirror.draw(4, 4, rng).mirror);
}

TEST_CASE("data/transform: mean image taken at the source position, mean values, scale") {
    // Mean image m(y, x) = y * x over the whole 4 x 4 source; crop 2 at (1, 2), mirrored:
    // out(0,0) = v(1,3) - m(1,3) = 13 - 3, out(0,1) = v(1,2) - m(1,2) = 12 - 2,
    // out(1,0) = v(2,3) - m(2,3) = 23 - 6, out(1,1) = v(2,2) - m(2,2) = 22 - 4.
    TransformParam p;
    p.crop = 2;
    p.mean_c = 1, p.mean_h = 4, p.mean_w = 4;
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) p.mean_image.push_back((float)(y * x));
    Transformer t(p);
    CHECK(run(t, grid(4, 4), Augment{1, 2, true}) == std::vector<float>{10, 10, 17, 18});
    p.scale = 0.5f;
    CHECK(run(Transformer(p), grid(4, 4), Augment{1, 2, true}) == std::vector<float>{5, 5, 8.5f, 9});

    // Per-channel mean values in B, G, R order, and a single value for all channels.
    TransformParam q;
    q.mean_values = {1, 2, 3};
    q.scale = 2;
    const std::vector<float> o = run(Transformer(q), grid(1, 2, 3), Augment{});
    CHECK(o == std::vector<float>{(0 - 1) * 2, (1 - 1) * 2, (50 - 2) * 2, (51 - 2) * 2, (100 - 3) * 2, (101 - 3) * 2});
    q.mean_values = {10};
    q.scale = 1;
    CHECK(run(Transformer(q), grid(1, 2, 3), Augment{}) == std::vector<float>{-10, -9, 40, 41, 90, 91});
    q.mean_values = {1, 2};
    CHECK_THROWS_WITH_AS(run(Transformer(q), grid(1, 2, 3), Augment{}), contains("2 mean values for an image of 3 channels"), std::invalid_argument);

    // A mean image of the wrong size for the source.
    p.mean_h = 2, p.mean_w = 8;
    CHECK_THROWS_WITH_AS(run(Transformer(p), grid(4, 4), Augment{}), contains("the mean image is (1, 2, 8) but the image to crop is (1, 4, 4)"), std::invalid_argument);
    p.mean_w = 5;
    CHECK_THROWS_WITH_AS(Transformer{p}, contains("the mean image has 16 values"), std::invalid_argument);
    TransformParam both;
    both.mean_values = {1};
    both.mean_image = {1};
    both.mean_c = both.mean_h = both.mean_w = 1;
    CHECK_THROWS_WITH_AS(Transformer{both}, contains("not both"), std::invalid_argument);
}

TEST_CASE("data/transform: grey to colour, resize before crop, small images") {
    TransformParam p;
    p.force_color = true;
    p.mean_values = {104, 117, 123};
    Transformer t(p);
    int oc, oh, ow;
    t.output_dims(1, 2, 2, oc, oh, ow);
    CHECK(oc == 3);
    const std::vector<float> o = run(t, grid(2, 2), Augment{});
    CHECK(o == std::vector<float>{0 - 104, 1 - 104, 10 - 104, 11 - 104, 0 - 117, 1 - 117, 10 - 117, 11 - 117,
                                  0 - 123, 1 - 123, 10 - 123, 11 - 123});

    // resize 4 then centre crop 2 of a 2 x 2 image [[0, 100], [200, 50]]: the 4 x 4 resized
    // image's middle, whose values are those of the resize test.
    TransformParam r;
    r.resize = 4;
    r.crop = 2;
    Transformer tr(r);
    Image sq(1, 2, 2);
    sq.pixels = {0, 100, 200, 50};
    Image big;
    resize_bilinear(sq, 4, 4, big);
    CHECK(run(tr, sq, Augment{1, 1, false}) ==
          std::vector<float>{(float)big.at(0, 1, 1), (float)big.at(0, 1, 2), (float)big.at(0, 2, 1), (float)big.at(0, 2, 2)});
    CHECK(big.at(0, 1, 1) == 59);

    // An image smaller than the crop: an error, or upscaled to the crop when asked.
    TransformParam s;
    s.crop = 4;
    CHECK_THROWS_WITH_AS(Transformer(s).output_dims(1, 2, 2, oc, oh, ow), contains("smaller than the crop 4"), std::invalid_argument);
    s.upscale_small = true;
    Transformer ts(s);
    ts.output_dims(1, 2, 2, oc, oh, ow);
    CHECK(oh == 4);
    CHECK(ow == 4);
    const std::vector<float> up = run(ts, sq, Augment{});
    for (int i = 0; i < 16; ++i) CHECK(up[i] == (float)big.pixels[i]);
    // Native size when the image is at least the crop.
    ts.output_dims(1, 7, 9, oc, oh, ow);
    CHECK(oh == 4);
    int sh, sw;
    ts.source_dims(7, 9, sh, sw);
    CHECK(sh == 7);
    CHECK(sw == 9);

    TransformParam bad;
    bad.resize = 4;
    bad.crop = 5;
    CHECK_THROWS_WITH_AS(Transformer{bad}, contains("crop 5 is larger than the resized image 4"), std::invalid_argument);
}
