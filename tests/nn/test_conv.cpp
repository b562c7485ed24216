// tests/nn/test_conv.cpp -- im2col/col2im and the convolution layer: known answers, fast against
// naive kernels, grouped against separate convolutions, the gradient checker failing a wrong
// gradient, errors. The finite-difference gradients are checked in tests/nn/test_ops.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/conv.h"
#include "nn/im2col.h"
#include "nn/winograd.h"
#include "tests/nn/gradcheck.h"
#include "tests/nn/layer_params.h"
#include "tests/support/tensors.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace dlbhc;

namespace {

std::string describe(Shape in, const ConvParam& p) {
    return "in " + in.str() + " oc " + std::to_string(p.num_output) + " k " + std::to_string(p.kernel_h) + "x" +
           std::to_string(p.kernel_w) + " s " + std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) +
           " p " + std::to_string(p.pad_h) + "x" + std::to_string(p.pad_w) + " g " + std::to_string(p.group) +
           (p.bias_term ? "" : " no bias");
}

// Sets up a layer on x (random) with random weights and bias.
struct ConvFixture {
    Blob x{"x"}, y{"y"};
    ConvolutionLayer layer;
    ConvFixture(Shape in, const ConvParam& p, Rng& rng, ConvAlgo algo = ConvAlgo::Auto) : layer("conv", p) {
        x.reshape(in);
        fill_uniform(x.data, rng, -1, 1);
        layer.set_algo(algo);
        layer.reshape({&x}, {&y});
        for (Param& prm : layer.params()) fill_uniform(prm.value, rng, -1, 1);
    }
};

}  // namespace

TEST_CASE("im2col: known answer with padding and stride, and col2im is its adjoint") {
    // x (1, 3, 3) = 1..9; kernel 2x2, stride 2, pad 1: OH = OW = 2.
    Im2ColGeom g;
    g.c = 1, g.h = 3, g.w = 3, g.kh = 2, g.kw = 2, g.sh = 2, g.sw = 2, g.ph = 1, g.pw = 1;
    REQUIRE(g.out_h() == 2);
    REQUIRE(g.out_w() == 2);
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float col[16];
    im2col(g, x, col);
    // Row (kh, kw) lists, for each output (oh, ow), x[2 oh - 1 + kh][2 ow - 1 + kw] or 0.
    const float want[16] = {0, 0, 0, 5,   // kh 0, kw 0
                            0, 0, 4, 6,   // kh 0, kw 1
                            0, 2, 0, 8,   // kh 1, kw 0
                            1, 3, 7, 9};  // kh 1, kw 1
    for (int i = 0; i < 16; ++i) CHECK(col[i] == want[i]);

    // <im2col(x), c> == <x, col2im(c)> for random x, c, on awkward geometries.
    Rng rng(2);
    const Im2ColGeom geoms[] = {
        {3, 7, 5, 3, 2, 2, 1, 1, 0},  // c h w kh kw sh sw ph pw
        {2, 6, 9, 1, 4, 1, 3, 0, 2},
        {1, 4, 4, 4, 4, 1, 1, 3, 3},  // padding larger than needed: rows of pure padding
        {2, 11, 3, 5, 3, 3, 2, 2, 1},
    };
    for (const Im2ColGeom& ge : geoms) {
        Tensor xt(Shape(ge.c, ge.h, ge.w)), ct(Shape(ge.c * ge.kh * ge.kw, ge.out_h() * ge.out_w()));
        Tensor col_x(ct.shape()), xt_c(xt.shape());
        fill_uniform(xt, rng, -1, 1);
        fill_uniform(ct, rng, -1, 1);
        im2col(ge, xt.data(), col_x.data());
        xt_c.zero();
        col2im(ge, ct.data(), xt_c.data());
        double lhs = 0, rhs = 0;
        for (size_t i = 0; i < ct.count(); ++i) lhs += (double)col_x[i] * ct[i];
        for (size_t i = 0; i < xt.count(); ++i) rhs += (double)xt[i] * xt_c[i];
        CHECK(lhs == doctest::Approx(rhs).epsilon(1e-5));
        // col2im accumulates: a second call doubles.
        Tensor twice = xt_c;
        col2im(ge, ct.data(), twice.data());
        for (size_t i = 0; i < xt.count(); ++i) CHECK(twice[i] == doctest::Approx(2 * xt_c[i]));
    }
}

TEST_CASE("im2col/col2im with a row stride (images side by side) match their plain-loop references") {
    // Awkward geometries: padding wider than the kernel reach, strides that skip the last
    // columns, 1x1, kernel == padded input; each image written at an offset inside a wider matrix.
    const Im2ColGeom geoms[] = {
        {3, 7, 5, 3, 2, 2, 1, 1, 0},  // c h w kh kw sh sw ph pw
        {2, 6, 9, 1, 4, 1, 3, 0, 2},
        {1, 4, 4, 4, 4, 1, 1, 3, 3},
        {2, 11, 3, 5, 3, 3, 2, 2, 1},
        {4, 5, 5, 1, 1, 1, 1, 0, 0},
        {3, 23, 23, 11, 11, 4, 4, 0, 0},  // conv1-like
        {96, 9, 9, 5, 5, 1, 1, 2, 2},     // enough entries for the threaded path
        {2, 10, 13, 3, 7, 2, 3, 1, 3},    // strided, padding wider than the stride (negative phases)
        {1, 8, 17, 2, 5, 5, 5, 1, 4},     // stride wider than the kernel's width
    };
    Rng rng(3);
    for (const Im2ColGeom& g : geoms) {
        INFO("c " << g.c << " h " << g.h << " w " << g.w << " k " << g.kh << "x" << g.kw << " s " << g.sh << "x"
                  << g.sw << " p " << g.ph << "x" << g.pw);
        const int P = g.out_h() * g.out_w(), rows = g.c * g.kh * g.kw, images = 3;
        const size_t ld = (size_t)images * P + 5;  // wider than the images: the gap must stay untouched
        Tensor x(Shape(images, g.c, g.h, g.w));
        fill_uniform(x, rng, -1, 1);
        std::vector<float> fast((size_t)rows * ld, 7.0f), ref((size_t)rows * ld, 7.0f);
        for (int i = 0; i < images; ++i) {
            im2col(g, x.data() + (size_t)i * g.c * g.h * g.w, fast.data() + (size_t)i * P, ld);
            im2col_naive(g, x.data() + (size_t)i * g.c * g.h * g.w, ref.data() + (size_t)i * P, ld);
        }
        CHECK(fast == ref);
        for (int r = 0; r < rows; ++r)
            for (size_t q = (size_t)images * P; q < ld; ++q) REQUIRE(fast[(size_t)r * ld + q] == 7.0f);
        // The same columns written band by band of output rows (im2col_band, as batch-1 threads do).
        for (int cut = 0; cut <= g.out_h(); cut += std::max(1, g.out_h() / 3)) {
            std::vector<float> banded((size_t)rows * ld, 7.0f);
            for (int i = 0; i < images; ++i) {
                const float* xi = x.data() + (size_t)i * g.c * g.h * g.w;
                im2col_band(g, xi, banded.data() + (size_t)i * P, ld, cut, g.out_h());
                im2col_band(g, xi, banded.data() + (size_t)i * P, ld, 0, cut);
            }
            CHECK(banded == ref);
        }
        // col2im of the same wide matrix into non-zero images, both accumulate.
        std::vector<float> col((size_t)rows * ld);
        for (float& v : col) v = rng.uniform(-1, 1);
        Tensor dx_fast(x.shape()), dx_ref(x.shape());
        fill_uniform(dx_fast, rng, -1, 1);
        dx_ref = dx_fast;
        for (int i = 0; i < images; ++i) {
            col2im(g, col.data() + (size_t)i * P, ld, dx_fast.data() + (size_t)i * g.c * g.h * g.w);
            col2im_naive(g, col.data() + (size_t)i * P, ld, dx_ref.data() + (size_t)i * g.c * g.h * g.w);
        }
        CHECK(max_abs_diff(dx_fast, dx_ref) < 1e-5);
    }
}

TEST_CASE("conv: output size rounds down, per axis") {
    // OH = (8 + 0 - 3) / 2 + 1 = 3 (2.5 floored), OW = (7 + 2 - 2) / 3 + 1 = 3 (2.33 floored).
    CHECK(conv_output_shape(Shape(2, 4, 8, 7), conv_param(6, 3, 2, 2, 3, 0, 1)) == Shape(2, 6, 3, 3));
    CHECK(conv_col_size(Shape(2, 4, 8, 7), conv_param(6, 3, 2, 2, 3, 0, 1)) == (size_t)4 * 3 * 2 * 3 * 3);
    // AlexNet conv1: 227 -> 55 with an 11x11 kernel, stride 4.
    CHECK(conv_output_shape(Shape(1, 3, 227, 227), conv_param(96, 11, 11, 4, 4)) == Shape(1, 96, 55, 55));
}

TEST_CASE("conv: hand-computed forward and backward") {
    // x = 1..9 as (1, 1, 3, 3), w = [[1, 2], [3, 4]], b = 0.5.
    Blob x("x", Shape(1, 1, 3, 3)), y("y");
    for (int i = 0; i < 9; ++i) x.data[i] = (float)(i + 1);
    SUBCASE("stride 1, no padding") {
        ConvolutionLayer conv("conv", conv_param(1, 2, 2));
        conv.reshape({&x}, {&y});
        REQUIRE(y.shape() == Shape(1, 1, 2, 2));
        for (int i = 0; i < 4; ++i) conv.param(0).value[i] = (float)(i + 1);
        conv.param(1).value[0] = 0.5f;
        conv.forward({&x}, {&y});
        // 1*1 + 2*2 + 3*4 + 4*5 = 37, then 47, 67, 77.
        const float want[4] = {37.5f, 47.5f, 67.5f, 77.5f};
        for (int i = 0; i < 4; ++i) CHECK(y.data[i] == want[i]);

        y.diff.fill(1.0f);
        x.diff.zero();
        conv.param(0).grad.zero();
        conv.param(1).grad.zero();
        conv.backward({&y}, {&x});
        CHECK(conv.param(1).grad[0] == 4.0f);
        // dw[kh][kw] = sum of the four windows' entries at (kh, kw).
        const float dw[4] = {1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9};
        for (int i = 0; i < 4; ++i) CHECK(conv.param(0).grad[i] == dw[i]);
        // dx = sum of the weights that touched each pixel.
        const float dx[9] = {1, 1 + 2, 2, 1 + 3, 1 + 2 + 3 + 4, 2 + 4, 3, 3 + 4, 4};
        for (int i = 0; i < 9; ++i) CHECK(x.diff[i] == dx[i]);
    }
    SUBCASE("stride 2, padding 1") {
        ConvolutionLayer conv("conv", conv_param(1, 2, 2, 2, 2, 1, 1));
        conv.reshape({&x}, {&y});
        REQUIRE(y.shape() == Shape(1, 1, 2, 2));
        for (int i = 0; i < 4; ++i) conv.param(0).value[i] = (float)(i + 1);
        conv.param(1).value[0] = 0.5f;
        conv.forward({&x}, {&y});
        // (0,0): w11 x00 = 4; (0,1): w10 x01 + w11 x02 = 6 + 12; (1,0): w01 x10 + w11 x20 = 8 + 28;
        // (1,1): the whole kernel on x[1..2][1..2] = 5 + 12 + 24 + 36.
        const float want[4] = {4.5f, 18.5f, 36.5f, 77.5f};
        for (int i = 0; i < 4; ++i) CHECK(y.data[i] == want[i]);
    }
    SUBCASE("two groups of one channel each") {
        Blob x2("x2", Shape(1, 2, 3, 3)), y2("y2");
        for (int i = 0; i < 9; ++i) {
            x2.data[i] = (float)(i + 1);
            x2.data[9 + i] = (float)(-(i + 1));
        }
        ConvolutionLayer conv("conv", conv_param(2, 2, 2, 1, 1, 0, 0, 2, false));
        conv.reshape({&x2}, {&y2});
        REQUIRE(conv.param(0).value.shape() == Shape(2, 1, 2, 2));
        for (int i = 0; i < 4; ++i) {
            conv.param(0).value[i] = (float)(i + 1);
            conv.param(0).value[4 + i] = 1.0f;
        }
        conv.forward({&x2}, {&y2});
        const float want[8] = {37, 47, 67, 77,                                       // group 0: as above
                               -(1 + 2 + 4 + 5), -(2 + 3 + 5 + 6), -(4 + 5 + 7 + 8), -(5 + 6 + 8 + 9)};  // group 1: box sums of -x
        for (int i = 0; i < 8; ++i) CHECK(y2.data[i] == want[i]);
    }
}

TEST_CASE("conv: fast kernels match the naive ones, forward and backward") {
    struct Cfg {
        Shape in;
        ConvParam p;
    };
    const Cfg cfgs[] = {
        {Shape(2, 3, 9, 7), conv_param(5, 3, 3)},
        {Shape(1, 3, 17, 13), conv_param(4, 5, 3, 2, 3, 2, 1)},       // per-axis everything
        {Shape(3, 4, 8, 11), conv_param(6, 3, 2, 1, 2, 1, 0, 2)},     // groups 2
        {Shape(2, 6, 7, 7), conv_param(9, 3, 3, 2, 2, 1, 1, 3, false)},  // groups 3, no bias
        {Shape(2, 5, 6, 5), conv_param(7, 1, 1)},                     // pointwise fast path
        {Shape(1, 4, 5, 6), conv_param(4, 1, 1, 1, 1, 0, 0, 4)},      // depthwise pointwise
        {Shape(2, 3, 23, 23), conv_param(8, 11, 11, 4, 4)},           // conv1-like
        {Shape(1, 8, 9, 9), conv_param(16, 5, 5, 1, 1, 2, 2, 2)},     // conv2-like
        {Shape(1, 2, 3, 4), conv_param(3, 3, 4)},                     // kernel == input: 1x1 output
        {Shape(1, 2, 2, 2), conv_param(3, 3, 3, 1, 1, 1, 1)},         // kernel == padded input
    };
    Rng rng(21);
    for (const Cfg& c : cfgs) {
        INFO(describe(c.in, c.p));
        REQUIRE(conv_check(c.in, c.p).empty());
        Shape out = conv_output_shape(c.in, c.p);
        Tensor x(c.in), w(Shape(c.p.num_output, c.in.c / c.p.group, c.p.kernel_h, c.p.kernel_w)),
            b(Shape(c.p.num_output));
        fill_uniform(x, rng, -1, 1);
        fill_uniform(w, rng, -1, 1);
        fill_uniform(b, rng, -1, 1);
        const float* bias = c.p.bias_term ? b.data() : nullptr;
        std::vector<float> col(conv_col_size(c.in, c.p) + 1);
        Tensor y_fast(out), y_ref(out);
        y_fast.fill(NAN);  // forward overwrites
        conv_forward(y_fast.data(), x.data(), w.data(), bias, c.in, c.p, col.data());
        conv_forward_naive(y_ref.data(), x.data(), w.data(), bias, c.in, c.p);
        CHECK(rel_err(y_fast, y_ref) < 1e-5);

        // Backward into non-zero gradients, to check that both accumulate.
        Tensor dy(out), dx0(c.in), dw0(w.shape()), db0(b.shape());
        fill_uniform(dy, rng, -1, 1);
        fill_uniform(dx0, rng, -1, 1);
        fill_uniform(dw0, rng, -1, 1);
        fill_uniform(db0, rng, -1, 1);
        Tensor dx_f = dx0, dw_f = dw0, db_f = db0, dx_r = dx0, dw_r = dw0, db_r = db0;
        conv_backward(dx_f.data(), dw_f.data(), c.p.bias_term ? db_f.data() : nullptr, dy.data(), x.data(), w.data(),
                      c.in, c.p, col.data());
        conv_backward_naive(dx_r.data(), dw_r.data(), c.p.bias_term ? db_r.data() : nullptr, dy.data(), x.data(),
                            w.data(), c.in, c.p);
        CHECK(rel_err(dx_f, dx_r) < 1e-5);
        CHECK(rel_err(dw_f, dw_r) < 1e-5);
        CHECK(rel_err(db_f, db_r) < 1e-5);
        CHECK(max_abs_diff(dx_f, dx0) > 0.01);  // something was added
        if (!c.p.bias_term) CHECK(max_abs_diff(db_f, db0) == 0);

        // Skipping gradients: null pointers leave the others as they were.
        Tensor dw_only = dw0;
        conv_backward(nullptr, dw_only.data(), nullptr, dy.data(), x.data(), w.data(), c.in, c.p, col.data());
        CHECK(rel_err(dw_only, dw_r) < 1e-5);
    }
}

namespace {

struct BatchCfg {
    Shape in;
    ConvParam p;
};

// The batched kernels under `plan` against the naive ones: forward overwrites, backward
// accumulates into non-zero buffers, and each gradient can be skipped alone.
void check_batched(const BatchCfg& c, const ConvPlan& plan, Rng& rng) {
    const Shape out = conv_output_shape(c.in, c.p);
    Tensor x(c.in), w(Shape(c.p.num_output, c.in.c / c.p.group, c.p.kernel_h, c.p.kernel_w)), b(Shape(c.p.num_output));
    fill_uniform(x, rng, -1, 1);
    fill_uniform(w, rng, -1, 1);
    fill_uniform(b, rng, -1, 1);
    const float* bias = c.p.bias_term ? b.data() : nullptr;
    std::vector<float> work(plan.workspace_floats() + 1, NAN);  // scratch starts as garbage
    Tensor y_fast(out), y_ref(out);
    y_fast.fill(NAN);
    conv_forward(y_fast.data(), x.data(), w.data(), bias, c.in, c.p, plan, work.data());
    conv_forward_naive(y_ref.data(), x.data(), w.data(), bias, c.in, c.p);
    CHECK(rel_err(y_fast, y_ref) < 1e-5);

    Tensor dy(out), dx0(c.in), dw0(w.shape()), db0(b.shape());
    fill_uniform(dy, rng, -1, 1);
    fill_uniform(dx0, rng, -1, 1);
    fill_uniform(dw0, rng, -1, 1);
    fill_uniform(db0, rng, -1, 1);
    Tensor dx_f = dx0, dw_f = dw0, db_f = db0, dx_r = dx0, dw_r = dw0, db_r = db0;
    conv_backward(dx_f.data(), dw_f.data(), db_f.data(), dy.data(), x.data(), w.data(), c.in, c.p, plan, work.data());
    conv_backward_naive(dx_r.data(), dw_r.data(), db_r.data(), dy.data(), x.data(), w.data(), c.in, c.p);
    CHECK(rel_err(dx_f, dx_r) < 1e-5);
    CHECK(rel_err(dw_f, dw_r) < 1e-5);
    CHECK(rel_err(db_f, db_r) < 1e-5);

    Tensor dw_only = dw0, db_only = db0, dx_only = dx0;
    conv_backward(nullptr, dw_only.data(), nullptr, dy.data(), x.data(), w.data(), c.in, c.p, plan, work.data());
    CHECK(rel_err(dw_only, dw_r) < 1e-5);
    conv_backward(nullptr, nullptr, db_only.data(), dy.data(), x.data(), w.data(), c.in, c.p, plan, work.data());
    CHECK(rel_err(db_only, db_r) < 1e-5);
    conv_backward(dx_only.data(), nullptr, nullptr, dy.data(), x.data(), w.data(), c.in, c.p, plan, work.data());
    CHECK(rel_err(dx_only, dx_r) < 1e-5);
}

}  // namespace

TEST_CASE("conv: batched kernels (several images per GEMM) match the naive ones for every chunk size") {
    const BatchCfg cfgs[] = {
        {Shape(5, 3, 9, 7), conv_param(5, 3, 3)},
        {Shape(7, 3, 17, 13), conv_param(4, 5, 3, 2, 3, 2, 1)},          // per-axis everything, odd batch
        {Shape(6, 4, 8, 11), conv_param(6, 3, 2, 1, 2, 1, 0, 2)},        // groups 2
        {Shape(4, 6, 7, 7), conv_param(9, 3, 3, 2, 2, 1, 1, 3, false)},  // groups 3, no bias
        {Shape(5, 5, 6, 5), conv_param(7, 1, 1)},                        // pointwise, several per chunk
        {Shape(3, 4, 5, 6), conv_param(4, 1, 1, 1, 1, 0, 0, 4)},         // depthwise pointwise
        {Shape(9, 8, 6, 6), conv_param(10, 3, 3, 1, 1, 1, 1, 2)},        // 13x13-like: small images
        {Shape(3, 2, 3, 4), conv_param(3, 3, 4)},                        // 1x1 output
        {Shape(2, 2, 2, 2), conv_param(3, 3, 3, 1, 1, 1, 1)},            // kernel == padded input
        {Shape(1, 3, 10, 10), conv_param(4, 3, 3, 1, 1, 1, 1)},          // batch 1
    };
    Rng rng(26);
    for (const BatchCfg& c : cfgs) {
        for (int chunk : {0, 1, 2, 3, c.in.n}) {
            for (int threads : {1, 2, 3}) {
                const ConvPlan plan = conv_plan(c.in, c.p, threads, chunk);
                INFO(describe(c.in, c.p) << " chunk " << plan.chunk << " chunks " << plan.chunks << " slices "
                                         << plan.slices << " slots " << plan.slots);
                REQUIRE(plan.chunk >= 1);
                REQUIRE(plan.chunks == (c.in.n + plan.chunk - 1) / plan.chunk);
                REQUIRE(plan.slices == std::min(plan.chunks, kConvMaxSlices));
                check_batched(c, plan, rng);
            }
        }
    }
}

TEST_CASE("conv: Winograd F(2x2, 3x3) matches the naive kernels for every chunk size") {
    // Odd and even outputs (ragged last tile row/column), pads 0-2, groups, no bias, batch 1, a
    // 1x1 output, inputs smaller than a tile.
    const BatchCfg cfgs[] = {
        {Shape(5, 3, 9, 7), conv_param(5, 3, 3)},                        // 7x5 output, pad 0
        {Shape(4, 8, 6, 6), conv_param(10, 3, 3, 1, 1, 1, 1, 2)},        // 6x6 output, groups 2
        {Shape(3, 6, 13, 13), conv_param(9, 3, 3, 1, 1, 1, 1, 3, false)},  // 13x13, groups 3, no bias
        {Shape(2, 4, 5, 8), conv_param(6, 3, 3, 1, 1, 2, 0)},            // per-axis pad 2/0
        {Shape(3, 2, 3, 3), conv_param(3, 3, 3)},                        // 1x1 output
        {Shape(2, 3, 1, 2), conv_param(4, 3, 3, 1, 1, 1, 1)},            // input smaller than a tile
        {Shape(1, 16, 10, 10), conv_param(8, 3, 3, 1, 1, 1, 1)},         // batch 1
        {Shape(2, 3, 9, 19), conv_param(4, 3, 3, 1, 1, 1, 1)},           // 10 tiles wide: portable transforms
        {Shape(2, 3, 21, 16), conv_param(4, 3, 3, 1, 1, 0, 1)},          // 8 tiles wide, 10 tall
    };
    Rng rng(28);
    for (const BatchCfg& c : cfgs) {
        REQUIRE(conv_winograd_possible(c.p));
        for (int chunk : {0, 1, 2, c.in.n}) {
            for (int threads : {1, 2, 3}) {
                const ConvPlan plan = conv_plan(c.in, c.p, threads, chunk, ConvAlgo::Winograd);
                INFO(describe(c.in, c.p) << " Winograd chunk " << plan.chunk << " chunks " << plan.chunks
                                         << " slices " << plan.slices << " slots " << plan.slots);
                REQUIRE(plan.winograd);
                check_batched(c, plan, rng);
            }
        }
    }
}

TEST_CASE("conv: Winograd transforms against their matrix definitions, one tile") {
    // One 4x4 input, one 3x3 filter, one 2x2 output: the matrices of winograd.h as explicit
    // matrix products here must give the convolution, the fast route the same, and U the layer's.
    const double BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
    const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    const double AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
    Rng rng(29);
    Tensor x(Shape(1, 1, 4, 4)), w(Shape(1, 1, 3, 3));
    fill_uniform(x, rng, -1, 1);
    fill_uniform(w, rng, -1, 1);
    double U[4][4] = {}, V[4][4] = {}, Y[2][2] = {};
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            for (int k = 0; k < 3; ++k)
                for (int l = 0; l < 3; ++l) U[i][j] += G[i][k] * w[k * 3 + l] * G[j][l];
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            for (int k = 0; k < 4; ++k)
                for (int l = 0; l < 4; ++l) V[i][j] += BT[i][k] * x[k * 4 + l] * BT[j][l];
    for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b)
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) Y[a][b] += AT[a][i] * U[i][j] * V[i][j] * AT[b][j];
    const ConvParam p = conv_param(1, 3, 3, 1, 1, 0, 0, 1, false);
    Tensor ref(Shape(1, 1, 2, 2));
    conv_forward_naive(ref.data(), x.data(), w.data(), nullptr, x.shape(), p);
    for (int q = 0; q < 4; ++q) CHECK(Y[q / 2][q % 2] == doctest::Approx(ref[q]).epsilon(1e-6));  // ref is rounded to float
    const ConvPlan plan = conv_plan(x.shape(), p, 1, 0, ConvAlgo::Winograd);
    std::vector<float> work(plan.workspace_floats());
    Tensor y(ref.shape());
    conv_forward(y.data(), x.data(), w.data(), nullptr, x.shape(), p, plan, work.data());
    for (int q = 0; q < 4; ++q) CHECK(y[q] == doctest::Approx(Y[q / 2][q % 2]).epsilon(1e-6));
    // The layer's transformed weights are U, position-major (16, OC, C/G).
    const float* Uw = work.data() + (plan.workspace_floats() - plan.u_floats);
    for (int q = 0; q < 16; ++q) CHECK(Uw[q * winograd_stride(1, 1)] == doctest::Approx(U[q / 4][q % 4]).epsilon(1e-6));
}

TEST_CASE("conv: Winograd's vectorised transforms equal the portable ones") {
    auto max_abs_diff = [](const std::vector<float>& a, const std::vector<float>& b) {
        double m = 0;
        // worst(), not std::fmax: a NaN counts (and g++ 12.2 for aarch64 crashes vectorising the
        // fmax reduction).
        for (size_t i = 0; i < a.size(); ++i) m = worst(m, std::fabs((double)a[i] - b[i]));
        return m;
    };
    // Every plane width the AVX-512 transforms take (1-7 tiles), odd and even sizes, pads 0-2,
    // tall planes; on a CPU without AVX-512 both sides are the portable code and this is trivial.
    Rng rng(30);
    int vectorised = 0;
    for (int w = 1; w <= 14; ++w)
        for (int pad = 0; pad <= 2; ++pad)
            for (int h : {1, 3, 6, 13, 20}) {
                WinogradGeom g;
                g.c = 3, g.h = h, g.w = w, g.oc = 2, g.ph = pad, g.pw = pad;
                if (g.out_h() < 1 || g.out_w() < 1) continue;
                INFO("h " << h << " w " << w << " pad " << pad);
                vectorised += winograd_vectorised(g);
                const int nb = 2, T = nb * g.tiles();
                const size_t ld = T + 3, xv = winograd_stride(g.c, ld), xm = winograd_stride(g.oc, ld);
                std::vector<float> x((size_t)nb * g.c * h * w), plane(g.plane_floats());
                std::vector<float> V1(16 * xv, 7.0f), V2(V1), M(16 * xm), bias(g.oc);
                std::vector<float> y1((size_t)nb * g.oc * g.out_h() * g.out_w(), 7.0f), y2(y1), dy(y1.size());
                std::vector<float> dM1(16 * xm, 7.0f), dM2(dM1), dV(16 * xv), dx1(x.size()), dx2;
                for (auto* v : {&x, &M, &bias, &dy, &dV, &dx1})
                    for (float& f : *v) f = rng.uniform(-1, 1);
                dx2 = dx1;
                winograd_input(g, x.data(), nb, V1.data(), ld, xv, plane.data());
                winograd_input_portable(g, x.data(), nb, V2.data(), ld, xv, plane.data());
                CHECK(max_abs_diff(V1, V2) < 1e-6);  // including the columns between T and ld, untouched
                winograd_output(g, M.data(), ld, xm, bias.data(), nb, y1.data());
                winograd_output_portable(g, M.data(), ld, xm, bias.data(), nb, y2.data());
                CHECK(max_abs_diff(y1, y2) < 1e-5);
                winograd_output_backward(g, dy.data(), nb, dM1.data(), ld, xm);
                winograd_output_backward_portable(g, dy.data(), nb, dM2.data(), ld, xm);
                CHECK(max_abs_diff(dM1, dM2) < 1e-6);
                winograd_input_backward(g, dV.data(), ld, xv, nb, dx1.data(), plane.data());
                winograd_input_backward_portable(g, dV.data(), ld, xv, nb, dx2.data(), plane.data());
                CHECK(max_abs_diff(dx1, dx2) < 1e-5);
            }
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) CHECK(vectorised > 100);
#endif
}

TEST_CASE("conv: the automatic plan takes Winograd for wide 3x3 stride-1 layers only") {
    const ConvParam conv3 = conv_param(384, 3, 3, 1, 1, 1, 1);
    const ConvPlan w3 = conv_plan(Shape(64, 256, 13, 13), conv3, 2);
    CHECK(w3.winograd);
    CHECK(w3.chunk * 49 >= 392);  // 49 tiles of 2x2 per 13x13 image
    CHECK(w3.col_floats == 16 * winograd_stride(256, w3.chunk * 49) + 16 * 16);
    CHECK(w3.ycol_floats == 16 * winograd_stride(384, w3.chunk * 49));
    CHECK(w3.u_floats == 16 * winograd_stride(384, 256));
    CHECK(winograd_stride(384, 256) == 384 * 256 + 16);  // a multiple of 1024 floats, plus 16
    CHECK(w3.partial_floats == w3.u_floats + 384);
    CHECK(w3.workspace_floats() == 2 * (w3.col_floats + w3.ycol_floats) + w3.slices * w3.partial_floats + w3.u_floats);
    // conv4/conv5 (groups 2, 192 channels per group) too, and batches down to 8 (8 chunks).
    CHECK(conv_plan(Shape(64, 384, 13, 13), conv_param(256, 3, 3, 1, 1, 1, 1, 2), 2).winograd);
    CHECK(conv_plan(Shape(8, 256, 13, 13), conv3, 2).winograd);
    // Not below 8 chunks: batch-1 inference stays on the GEMM route.
    CHECK_FALSE(conv_plan(Shape(4, 256, 13, 13), conv3, 2).winograd);
    CHECK_FALSE(conv_plan(Shape(1, 256, 13, 13), conv3, 2).winograd);
    // Not: strides, other kernels, thin layers, or GEMM imposed.
    CHECK_FALSE(conv_plan(Shape(8, 64, 13, 13), conv_param(64, 3, 3, 2, 2, 1, 1), 2).winograd);
    CHECK_FALSE(conv_plan(Shape(64, 96, 27, 27), conv_param(256, 5, 5, 1, 1, 2, 2, 2), 2).winograd);
    CHECK_FALSE(conv_plan(Shape(8, 64, 13, 13), conv_param(64, 3, 5, 1, 1, 1, 2), 2).winograd);
    CHECK_FALSE(conv_plan(Shape(8, 8, 13, 13), conv_param(64, 3, 3, 1, 1, 1, 1), 2).winograd);
    CHECK_FALSE(conv_plan(Shape(64, 256, 13, 13), conv3, 2, 0, ConvAlgo::Gemm).winograd);
    CHECK_THROWS_AS(conv_plan(Shape(8, 64, 13, 13), conv_param(64, 3, 3, 2, 2), 2, 0, ConvAlgo::Winograd),
                    std::invalid_argument);
}

TEST_CASE("conv: the automatic plan puts several small images in one GEMM and sizes its scratch") {
    // conv3 of CaffeNet at batch 64 on the GEMM route: 13x13 outputs, so several images per chunk.
    const Shape in(64, 256, 13, 13);
    const ConvParam p = conv_param(384, 3, 3, 1, 1, 1, 1);
    const ConvPlan plan = conv_plan(in, p, 2, 0, ConvAlgo::Gemm);
    CHECK(plan.chunk > 1);
    CHECK(plan.chunk * 169 >= 512);
    CHECK(plan.chunks >= 8);
    CHECK(plan.slices == kConvMaxSlices);
    CHECK(plan.slots == 2);
    CHECK(plan.col_floats == (size_t)256 * 9 * plan.chunk * 169);
    CHECK(plan.ycol_floats == (size_t)384 * plan.chunk * 169);
    CHECK(plan.partial_floats == (size_t)384 * 256 * 9 + 384);
    CHECK(plan.workspace_floats() ==
          2 * (plan.col_floats + plan.ycol_floats) + (size_t)kConvMaxSlices * plan.partial_floats);
    // conv1 (55x55 outputs): one image per chunk, whose GEMMs write y in place (no gather buffer).
    const ConvPlan p1 = conv_plan(Shape(64, 3, 227, 227), conv_param(96, 11, 11, 4, 4), 2);
    CHECK(p1.chunk == 1);
    CHECK(p1.ycol_floats == 0);
    // Batch 1: one chunk, one slice (the weight gradient goes straight into dweight).
    const ConvPlan p2 = conv_plan(Shape(1, 256, 13, 13), p, 2, 0, ConvAlgo::Gemm);
    CHECK(p2.chunks == 1);
    CHECK(p2.slices == 1);
    CHECK(p2.slots == 1);
    CHECK(p2.workspace_floats() == p2.col_floats);
}

#ifdef _OPENMP
TEST_CASE("conv: the layer's results do not depend on the number of threads (bit for bit)") {
    // Both large enough (over 2^21 multiply-adds) for the threads to share the chunks.
    const BatchCfg cfgs[] = {
        {Shape(16, 16, 12, 12), conv_param(32, 3, 3, 1, 1, 1, 1, 2)},  // chunks of several images
        {Shape(16, 3, 35, 35), conv_param(16, 5, 5, 2, 2, 0, 0)},      // one image per chunk
        {Shape(16, 32, 9, 9), conv_param(32, 3, 3, 1, 1, 1, 1)},       // Winograd (automatic)
    };
    const int saved = omp_get_max_threads();
    for (const BatchCfg& c : cfgs) {
        INFO(describe(c.in, c.p));
        std::vector<Tensor> results;
        for (int threads : {1, 2, 3}) {
            omp_set_num_threads(threads);
            Rng rng(27);
            ConvFixture f(c.in, c.p, rng);  // reshape sizes the scratch for this thread count
            REQUIRE(f.layer.plan().winograd == (c.p.kernel_h == 3 && c.p.group == 1));
            REQUIRE(f.layer.plan().slots == std::min(threads, f.layer.plan().chunks));
            f.layer.forward({&f.x}, {&f.y});
            fill_uniform(f.y.diff, rng, -1, 1);
            f.x.diff.zero();
            for (Param& prm : f.layer.params()) prm.grad.zero();
            f.layer.backward({&f.y}, {&f.x});
            results.push_back(f.y.data);
            results.push_back(f.x.diff);
            results.push_back(f.layer.param(0).grad);
            results.push_back(f.layer.param(1).grad);
        }
        omp_set_num_threads(saved);
        for (size_t r = 4; r < results.size(); ++r) {
            INFO("result " << r % 4 << " with " << r / 4 + 1 << " threads");
            CHECK(max_abs_diff(results[r], results[r % 4]) == 0);
        }
    }
    omp_set_num_threads(saved);
}
TEST_CASE("conv: batch 1 with the threads sharing one image equals the serial forward and the naive kernel") {
    // One image of at least 2^21 multiply-adds: conv_forward shares it among the threads
    // (forward_image_shared), cutting by group, by band of output rows or by output channels.
    const BatchCfg cfgs[] = {
        {Shape(1, 3, 64, 64), conv_param(32, 5, 5, 1, 1, 0, 0)},          // rows (columns 75 x 3600 > weights 32 x 75)
        {Shape(1, 3, 71, 71), conv_param(24, 11, 11, 4, 4, 0, 0)},        // rows, strided, like conv1
        {Shape(1, 64, 9, 9), conv_param(128, 3, 3, 1, 1, 1, 1)},          // channels (weights 128 x 576 > 576 x 81)
        {Shape(1, 64, 9, 9), conv_param(100, 3, 3, 1, 1, 1, 1, 1, false)},  // channels, ragged 8-row steps, no bias
        {Shape(1, 32, 16, 16), conv_param(64, 5, 5, 1, 1, 2, 2, 2)},      // groups, one per thread
        {Shape(1, 48, 16, 16), conv_param(96, 3, 3, 1, 1, 1, 1, 3)},      // 3 groups: rows or channels on 2 threads
        {Shape(1, 256, 12, 12), conv_param(128, 1, 1)},                   // pointwise: the image is the column matrix
    };
    const int saved = omp_get_max_threads();
    for (const BatchCfg& c : cfgs) {
        INFO(describe(c.in, c.p));
        const Shape out = conv_output_shape(c.in, c.p);
        REQUIRE((double)out.c * out.h * out.w * (c.in.c / c.p.group) * c.p.kernel_h * c.p.kernel_w >= (1 << 21));
        std::vector<Tensor> results;
        for (int threads : {1, 2, 3}) {
            omp_set_num_threads(threads);
            Rng rng(31);
            ConvFixture f(c.in, c.p, rng, ConvAlgo::Gemm);
            REQUIRE(f.layer.plan().chunk == 1);
            fill_uniform(f.y.data, rng, -1, 1);  // garbage the forward must overwrite
            f.layer.forward({&f.x}, {&f.y});
            results.push_back(f.y.data);
            if (threads == 1) {
                Tensor want(out);
                conv_forward_naive(want.data(), f.x.data.data(), f.layer.param(0).value.data(),
                                   c.p.bias_term ? f.layer.param(1).value.data() : nullptr, c.in, c.p);
                CHECK(rel_err(f.y.data, want) < 1e-5);
            }
        }
        omp_set_num_threads(saved);
        CHECK(max_abs_diff(results[1], results[0]) == 0);
        CHECK(max_abs_diff(results[2], results[0]) == 0);
    }
    omp_set_num_threads(saved);
}
#endif

TEST_CASE("conv: the layer matches the naive kernel and accumulates gradients") {
    Rng rng(22);
    ConvParam p = conv_param(6, 3, 2, 2, 1, 1, 1, 2);
    Shape in(2, 4, 7, 6);
    ConvFixture f(in, p, rng);
    f.layer.forward({&f.x}, {&f.y});
    Tensor ref(f.y.shape());
    conv_forward_naive(ref.data(), f.x.data.data(), f.layer.param(0).value.data(), f.layer.param(1).value.data(), in, p);
    CHECK(rel_err(f.y.data, ref) < 1e-5);

    // Two backward passes give twice the gradients of one (the contract: +=).
    fill_uniform(f.y.diff, rng, -1, 1);
    f.x.diff.zero();
    for (Param& prm : f.layer.params()) prm.grad.zero();
    f.layer.backward({&f.y}, {&f.x});
    Tensor dx1 = f.x.diff, dw1 = f.layer.param(0).grad, db1 = f.layer.param(1).grad;
    f.layer.backward({&f.y}, {&f.x});
    for (size_t i = 0; i < dx1.count(); ++i) CHECK(f.x.diff[i] == doctest::Approx(2 * dx1[i]));
    for (size_t i = 0; i < dw1.count(); ++i) CHECK(f.layer.param(0).grad[i] == doctest::Approx(2 * dw1[i]));
    for (size_t i = 0; i < db1.count(); ++i) CHECK(f.layer.param(1).grad[i] == doctest::Approx(2 * db1[i]));

    // propagate_down(0) == false: the bottom diff is left alone, parameter grads still come.
    f.layer.set_propagate_down({false});
    f.x.diff.fill(3.0f);
    f.layer.param(0).grad.zero();
    f.layer.backward({&f.y}, {&f.x});
    for (size_t i = 0; i < f.x.count(); ++i) CHECK(f.x.diff[i] == 3.0f);
    CHECK(rel_err(f.layer.param(0).grad, dw1) < 1e-6);

    // Reshape with the same input keeps the parameters (no re-creation).
    const float* wp = f.layer.param(0).value.data();
    f.layer.reshape({&f.x}, {&f.y});
    CHECK(f.layer.param(0).value.data() == wp);
    CHECK(f.layer.params().size() == 2);
}

TEST_CASE("conv: grouped convolution equals separate convolutions on channel slices") {
    // As Caffe's TestSimpleConvolutionGroup: G groups must equal G independent convolutions, each
    // on its slice of input channels, with its slice of the weights, writing its slice of outputs.
    Rng rng(23);
    const int G = 3, C = 6, OC = 9;
    Shape in(2, C, 8, 7);
    ConvParam pg = conv_param(OC, 3, 2, 1, 2, 1, 1, G);
    ConvFixture grouped(in, pg, rng);
    grouped.layer.forward({&grouped.x}, {&grouped.y});
    fill_uniform(grouped.y.diff, rng, -1, 1);
    grouped.x.diff.zero();
    for (Param& prm : grouped.layer.params()) prm.grad.zero();
    grouped.layer.backward({&grouped.y}, {&grouped.x});

    const int Cg = C / G, OCg = OC / G;
    const Shape ws = grouped.layer.param(0).value.shape();  // (OC, C/G, KH, KW)
    const size_t w_per_out = ws.chw();
    for (int g = 0; g < G; ++g) {
        INFO("group " << g);
        ConvParam p1 = pg;
        p1.num_output = OCg, p1.group = 1;
        Blob xs("xs", Shape(in.n, Cg, in.h, in.w)), ys("ys");
        for (int n = 0; n < in.n; ++n)
            for (int c = 0; c < Cg; ++c)
                for (int h = 0; h < in.h; ++h)
                    for (int w = 0; w < in.w; ++w) xs.data.at(n, c, h, w) = grouped.x.data.at(n, g * Cg + c, h, w);
        ConvolutionLayer single("single", p1);
        single.reshape({&xs}, {&ys});
        for (size_t i = 0; i < OCg * w_per_out; ++i)
            single.param(0).value[i] = grouped.layer.param(0).value[g * OCg * w_per_out + i];
        for (int o = 0; o < OCg; ++o) single.param(1).value[o] = grouped.layer.param(1).value[g * OCg + o];
        single.forward({&xs}, {&ys});
        const Shape os = ys.shape();
        double err = 0;
        for (int n = 0; n < os.n; ++n)
            for (int o = 0; o < OCg; ++o)
                for (int h = 0; h < os.h; ++h)
                    for (int w = 0; w < os.w; ++w) {
                        ys.diff.at(n, o, h, w) = grouped.y.diff.at(n, g * OCg + o, h, w);
                        err = worst(err, std::fabs(ys.data.at(n, o, h, w) - grouped.y.data.at(n, g * OCg + o, h, w)));
                    }
        CHECK(err < 1e-5);
        // Backward on the slice gives the slice of the grouped gradients.
        xs.diff.zero();
        for (Param& prm : single.params()) prm.grad.zero();
        single.backward({&ys}, {&xs});
        double dx_err = 0, dw_err = 0, db_err = 0;
        for (int n = 0; n < in.n; ++n)
            for (int c = 0; c < Cg; ++c)
                for (int h = 0; h < in.h; ++h)
                    for (int w = 0; w < in.w; ++w)
                        dx_err = worst(dx_err, std::fabs(xs.diff.at(n, c, h, w) - grouped.x.diff.at(n, g * Cg + c, h, w)));
        for (size_t i = 0; i < OCg * w_per_out; ++i)
            dw_err = worst(dw_err, std::fabs(single.param(0).grad[i] - grouped.layer.param(0).grad[g * OCg * w_per_out + i]));
        for (int o = 0; o < OCg; ++o)
            db_err = worst(db_err, std::fabs(single.param(1).grad[o] - grouped.layer.param(1).grad[g * OCg + o]));
        CHECK(dx_err < 1e-5);
        CHECK(dw_err < 1e-5);
        CHECK(db_err < 1e-5);
    }
}

TEST_CASE("conv: a wrong gradient is caught by the checker (the check can fail)") {
    Rng rng(25);
    ConvFixture f(Shape(1, 2, 4, 4), conv_param(2, 3, 3, 1, 1, 1, 1), rng);
    // A layer whose weight gradient is deliberately scaled: must be reported.
    struct Skewed : ConvolutionLayer {
        using ConvolutionLayer::ConvolutionLayer;
        void backward(const Blobs& top, const Blobs& bottom) override {
            ConvolutionLayer::backward(top, bottom);
            for (size_t i = 0; i < params()[0].grad.count(); ++i) params()[0].grad[i] *= 1.1f;
        }
    } skewed("skewed", conv_param(2, 3, 3, 1, 1, 1, 1));
    skewed.reshape({&f.x}, {&f.y});
    for (Param& prm : skewed.params()) fill_uniform(prm.value, rng, -1, 1);
    GradCheckReport rep = check_layer_gradients(skewed, {&f.x}, {&f.y});
    CHECK_FALSE(rep.ok(0));
    CHECK(rep.failed > 0);
}

TEST_CASE("conv: bad configurations give clear errors") {
    Blob x("data", Shape(1, 4, 5, 5)), y("y"), z("z");
    auto expect_error = [&](const ConvParam& p, const char* text) {
        ConvolutionLayer conv("convX", p);
        CHECK_THROWS_WITH_AS(conv.reshape({&x}, {&y}), doctest::Contains(text), std::invalid_argument);
    };
    expect_error(conv_param(3, 6, 3), "larger than the padded input");
    expect_error(conv_param(3, 3, 8, 1, 1, 1, 1), "larger than the padded input");
    expect_error(conv_param(3, 3, 3, 0, 1), "stride must be > 0");
    expect_error(conv_param(3, 3, 3, 1, 0), "stride must be > 0");
    expect_error(conv_param(4, 3, 3, 1, 1, 0, 0, 3), "input channels 4 are not divisible by group 3");
    expect_error(conv_param(3, 3, 3, 1, 1, 0, 0, 2), "num_output 3 is not divisible by group 2");
    expect_error(conv_param(4, 3, 3, 1, 1, 0, 0, 0), "group must be > 0");
    expect_error(conv_param(0, 3, 3), "num_output must be > 0");
    expect_error(conv_param(3, 0, 3), "kernel must be > 0");
    expect_error(conv_param(3, 3, 3, 1, 1, -1, 0), "pad must be >= 0");
    // The message names the layer and its type.
    expect_error(conv_param(3, 6, 3), "Convolution layer 'convX'");

    ConvolutionLayer conv("conv", conv_param(3, 3, 3));
    CHECK_THROWS_WITH_AS(conv.reshape({&x}, {&y, &z}), doctest::Contains("expects 1 bottom and 1 top"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(conv.reshape({}, {&y}), doctest::Contains("expects 1 bottom and 1 top"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(conv.reshape({&x}, {&x}), doctest::Contains("in place"), std::invalid_argument);
    // A kernel exactly as large as the padded input is fine (one output).
    ConvolutionLayer fits("fits", conv_param(3, 7, 7, 1, 1, 1, 1));
    CHECK_NOTHROW(fits.reshape({&x}, {&y}));
    CHECK(y.shape() == Shape(1, 3, 1, 1));
    // Input channels changed after the weights were made.
    conv.reshape({&x}, {&y});
    Blob x2("data", Shape(1, 5, 5, 5));
    CHECK_THROWS_WITH_AS(conv.reshape({&x2}, {&y}), doctest::Contains("input shape changed"), std::invalid_argument);
}
