// nn/conv.cpp -- see conv.h.
#include "nn/conv.h"

#include <algorithm>
#include <stdexcept>

#include "nn/gemm.h"
#include "nn/im2col.h"
#include "nn/winograd.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dlbhc {

namespace {

Im2ColGeom geom_of(Shape in, const ConvParam& p) {
    Im2ColGeom g;
    g.c = in.c, g.h = in.h, g.w = in.w;
    g.kh = p.kernel_h, g.kw = p.kernel_w;
    g.sh = p.stride_h, g.sw = p.stride_w;
    g.ph = p.pad_h, g.pw = p.pad_w;
    return g;
}

// A 1x1 kernel with stride 1 and no padding reads the image as it is: its column matrix is x
// itself, (C, H*W), so im2col and col2im are skipped.
bool is_pointwise(const ConvParam& p) {
    return p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
}

// A chunk should give the GEMMs at least this many output columns (b * OH * OW) ...
constexpr int kTargetColumns = 512;
// ... but the batch should still make at least this many chunks, for the threads to share.
constexpr int kMinChunks = 8;

// The first of `n` items in part k of `parts` (an even split; part_begin(n, parts, parts) = n).
int part_begin(int n, int k, int parts) { return (int)((long)n * k / parts); }

int thread_id() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

int team_size() {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

// Runs task(i) for i in [0, n): on `threads` threads (dynamic schedule) when threads > 1, else in
// turn on this thread. Not one `#pragma omp parallel for if (threads > 1)`: a GEMM or im2col inside
// such a region, even an inactive one, started its own threads much more slowly (libgomp; conv1 at
// batch 1 on 2 threads: 1.85 ms for the forward with the wrapper, 1.30 ms without).
template <class Task>
void run_tasks(int n, int threads, const Task& task) {
    if (threads > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int i = 0; i < n; ++i) task(i);
    } else {
        for (int i = 0; i < n; ++i) task(i);
    }
}

// The plan of the one-image-at-a-time entry points: b = 1, one scratch area, one slice.
ConvPlan single_image_plan(Shape in, const ConvParam& p) {
    ConvPlan plan;
    plan.chunk = 1;
    plan.chunks = in.n;
    plan.slices = 1;
    plan.slots = 1;
    plan.col_floats = is_pointwise(p) ? 0 : conv_col_size(in, p);
    return plan;
}

}  // namespace

std::string conv_check(Shape in, const ConvParam& p) {
    auto s = [](int v) { return std::to_string(v); };
    if (p.num_output <= 0) return "num_output must be > 0, got " + s(p.num_output);
    if (p.kernel_h <= 0 || p.kernel_w <= 0) return "kernel must be > 0, got " + s(p.kernel_h) + "x" + s(p.kernel_w);
    if (p.stride_h <= 0 || p.stride_w <= 0) return "stride must be > 0, got " + s(p.stride_h) + "x" + s(p.stride_w);
    if (p.pad_h < 0 || p.pad_w < 0) return "pad must be >= 0, got " + s(p.pad_h) + "x" + s(p.pad_w);
    if (p.group <= 0) return "group must be > 0, got " + s(p.group);
    if (in.c % p.group != 0)
        return "input channels " + s(in.c) + " are not divisible by group " + s(p.group);
    if (p.num_output % p.group != 0)
        return "num_output " + s(p.num_output) + " is not divisible by group " + s(p.group);
    if (p.kernel_h > in.h + 2 * p.pad_h || p.kernel_w > in.w + 2 * p.pad_w)
        return "kernel " + s(p.kernel_h) + "x" + s(p.kernel_w) + " is larger than the padded input " +
               s(in.h + 2 * p.pad_h) + "x" + s(in.w + 2 * p.pad_w) + " (input " + in.str() + ", pad " + s(p.pad_h) +
               "x" + s(p.pad_w) + ")";
    return "";
}

Shape conv_output_shape(Shape in, const ConvParam& p) {
    Im2ColGeom g = geom_of(in, p);
    return Shape(in.n, p.num_output, g.out_h(), g.out_w());
}

size_t conv_col_size(Shape in, const ConvParam& p) {
    Im2ColGeom g = geom_of(in, p);
    return (size_t)in.c * p.kernel_h * p.kernel_w * g.out_h() * g.out_w();
}

bool conv_winograd_possible(const ConvParam& p) {
    return p.kernel_h == 3 && p.kernel_w == 3 && p.stride_h == 1 && p.stride_w == 1;
}

namespace {

WinogradGeom wino_geom_of(Shape in, const ConvParam& p) {
    WinogradGeom g;
    g.c = in.c, g.h = in.h, g.w = in.w;
    g.oc = p.num_output;
    g.ph = p.pad_h, g.pw = p.pad_w;
    return g;
}

// Auto takes Winograd when each group has at least this many input and output channels. With
// fewer, the 16 GEMMs (K = C/G) are thin and the transforms weigh more: forward + backward at
// batch 64, C = OC, Winograd against im2col + GEMM measured 0.91x at 8 and 16 channels, 1.08x at
// 32, 1.21x at 64 on 27x27 planes (portable transforms), and 1.39x-1.72x from 8 to 64 channels
// on 13x13 planes (AVX-512 transforms). 32 keeps the route where it wins with either transform.
constexpr int kWinogradMinChannels = 32;

}  // namespace

ConvPlan conv_plan(Shape in, const ConvParam& p, int threads, int chunk, ConvAlgo algo) {
    const Im2ColGeom geo = geom_of(in, p);
    const int N = std::max(in.n, 1);
    ConvPlan plan;
    if (algo == ConvAlgo::Winograd && !conv_winograd_possible(p))
        throw std::invalid_argument("conv_plan: Winograd needs a 3x3 kernel with stride 1, got " +
                                    std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) + " stride " +
                                    std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w));
    const WinogradGeom wg = wino_geom_of(in, p);
    // b images per chunk for P output columns per image: enough columns for an efficient GEMM
    // (kTargetColumns), but at least kMinChunks chunks when the batch allows, so that threads can
    // share the batch.
    auto images_per_chunk = [&](int P) {
        int b = (kTargetColumns + P - 1) / P;
        b = std::max(1, std::min({b, N, N / kMinChunks}));
        return chunk > 0 ? std::min(chunk, N) : b;
    };
    // Auto takes Winograd for wide layers (kWinogradMinChannels) on batches of at least
    // kMinChunks chunks: its transforms run serially inside a chunk, so with fewer chunks than
    // that (batch-1 inference) a thread would wait (measured on conv3: 1.7x slower at batch 1,
    // even at 4, 1.25x faster at 16, 1.6x at 64). A Winograd route for batch 1 with the threads
    // sharing each chunk's transforms and GEMMs, and the transformed weights kept between calls,
    // was tried and still lost in the net: conv3-5 1.53-1.56, 1.19-1.23, 0.88-0.89 ms against
    // 1.29-1.40, 1.07-1.10, 0.82-0.85 ms for im2col + GEMM (2 threads; U is 1.8x the weights'
    // size, and at batch 1 it is read from memory for every image).
    plan.winograd = algo == ConvAlgo::Winograd;
    if (algo == ConvAlgo::Auto && conv_winograd_possible(p) && in.c / p.group >= kWinogradMinChannels &&
        p.num_output / p.group >= kWinogradMinChannels) {
        const int bw = images_per_chunk(wg.tiles());
        plan.winograd = (N + bw - 1) / bw >= kMinChunks;
    }
    // Output columns per image of the GEMMs: positions, or Winograd's tiles.
    const int P = plan.winograd ? wg.tiles() : geo.out_h() * geo.out_w();
    const int b = images_per_chunk(P);
    plan.chunk = b;
    plan.chunks = (N + b - 1) / b;
    plan.slices = std::min(plan.chunks, kConvMaxSlices);
    plan.slots = std::max(1, std::min(threads, plan.chunks));
    if (plan.winograd) {
        const size_t T = (size_t)b * P, cg = in.c / p.group;
        plan.col_floats = 16 * winograd_stride(in.c, T) + wg.plane_floats();
        plan.ycol_floats = 16 * winograd_stride(p.num_output, T);
        plan.u_floats = 16 * winograd_stride(p.num_output, cg);
        plan.partial_floats = plan.u_floats + p.num_output;
        return plan;
    }
    const size_t kall = (size_t)in.c * p.kernel_h * p.kernel_w;
    plan.col_floats = (b == 1 && is_pointwise(p)) ? 0 : kall * b * P;
    plan.ycol_floats = b == 1 ? 0 : (size_t)p.num_output * b * P;
    plan.partial_floats = (size_t)p.num_output * (in.c / p.group) * p.kernel_h * p.kernel_w + p.num_output;
    return plan;
}

namespace {

// Everything one chunk needs, resolved once per call.
struct ConvJob {
    Im2ColGeom geo;
    WinogradGeom wg;
    int N, G, OC, OCg, P, Kg, Cg;
    size_t chw, wcount;  // floats per input image; weights OC * Kg
    bool pointwise;
    ConvPlan plan;
    ConvJob(Shape in, const ConvParam& p, const ConvPlan& pl) : geo(geom_of(in, p)), wg(wino_geom_of(in, p)), plan(pl) {
        N = in.n, G = p.group, OC = p.num_output, OCg = OC / G;
        P = geo.out_h() * geo.out_w();
        Cg = in.c / G;
        Kg = Cg * p.kernel_h * p.kernel_w;
        chw = in.chw();
        wcount = (size_t)OC * Kg;
        pointwise = is_pointwise(p);
    }
    double macs() const { return (double)N * OC * P * Kg; }  // of one forward
    int first_image(int chunk) const { return chunk * plan.chunk; }
    int images(int chunk) const { return std::min(plan.chunk, N - chunk * plan.chunk); }
    float* col(float* work, int slot) const { return work + slot * (plan.col_floats + plan.ycol_floats); }
    float* ycol(float* work, int slot) const { return col(work, slot) + plan.col_floats; }
    float* partial(float* work, int slice) const {
        return work + plan.slots * (plan.col_floats + plan.ycol_floats) + slice * plan.partial_floats;
    }
    // The first chunk of slice s (slice_begin(slices) = chunks): the slices split the chunks evenly.
    int slice_begin(int s) const { return (int)((long)s * plan.chunks / plan.slices); }
    // partial_0[i] + partial_1[i] + ... in slice order (the same order on any thread count).
    float slice_sum(float* work, size_t i) const {
        float s = partial(work, 0)[i];
        for (int k = 1; k < plan.slices; ++k) s += partial(work, k)[i];
        return s;
    }
    // Winograd: the transformed weights, after the partials.
    float* wino_u(float* work) const { return partial(work, plan.slices); }
    // Winograd: the position stride of U and dU.
    size_t wino_xu() const { return winograd_stride(OC, Cg); }
    // Winograd: the padded plane after V in a slot's col area.
    float* wino_plane(float* col) const { return col + plan.col_floats - wg.plane_floats(); }
};

// The column matrix (C * KH * KW, nb * P) of images n0 .. n0+nb-1; with one image and a pointwise
// kernel it is the image itself.
const float* lower(const ConvJob& j, const float* inp, int n0, int nb, float* col) {
    if (nb == 1 && j.pointwise) return inp + (size_t)n0 * j.chw;
    const size_t ld = (size_t)nb * j.P;
    for (int i = 0; i < nb; ++i) im2col(j.geo, inp + (size_t)(n0 + i) * j.chw, col + (size_t)i * j.P, ld);
    return col;
}

void forward_chunk(const ConvJob& j, float* out, const float* inp, const float* weight, const float* bias, int chunk,
                   float* col, float* ycol) {
    const int n0 = j.first_image(chunk), nb = j.images(chunk), cols = nb * j.P;
    const float* B = lower(j, inp, n0, nb, col);
    // One image: the GEMM writes y itself, (OC, P). Several: ycol (OC, nb P), scattered below.
    float* Y = nb == 1 ? out + (size_t)n0 * j.OC * j.P : ycol;
    for (int g = 0; g < j.G; ++g)  // y_g (OCg, cols) = w_g (OCg, Kg) * col_g (Kg, cols)
        sgemm(false, false, j.OCg, cols, j.Kg, 1.0f, weight + (size_t)g * j.OCg * j.Kg, j.Kg,
              B + (size_t)g * j.Kg * cols, cols, 0.0f, Y + (size_t)g * j.OCg * cols, cols);
    if (nb == 1) {
        if (bias)
            for (int o = 0; o < j.OC; ++o) {
                float* yo = Y + (size_t)o * j.P;
                const float bo = bias[o];
                for (int q = 0; q < j.P; ++q) yo[q] += bo;
            }
        return;
    }
    for (int i = 0; i < nb; ++i)
        for (int o = 0; o < j.OC; ++o) {
            const float* src = ycol + (size_t)o * cols + (size_t)i * j.P;
            float* dst = out + ((size_t)(n0 + i) * j.OC + o) * j.P;
            const float bo = bias ? bias[o] : 0.0f;
            for (int q = 0; q < j.P; ++q) dst[q] = src[q] + bo;
        }
}

// Adds one chunk's gradients: dw/db (the slice's partial sums, or the caller's buffers) and dx.
void backward_chunk(const ConvJob& j, float* dinp, float* dw, float* db, const float* dout, const float* inp,
                    const float* weight, int chunk, float* col, float* ycol) {
    const int n0 = j.first_image(chunk), nb = j.images(chunk), cols = nb * j.P;
    // dY (OC, cols): dy of one image as it is, or the chunk's images gathered side by side.
    const float* dY = dout + (size_t)n0 * j.OC * j.P;
    if (nb > 1) {
        for (int i = 0; i < nb; ++i)
            for (int o = 0; o < j.OC; ++o) {
                const float* src = dout + ((size_t)(n0 + i) * j.OC + o) * j.P;
                std::copy(src, src + j.P, ycol + (size_t)o * cols + (size_t)i * j.P);
            }
        dY = ycol;
    }
    if (db)
        for (int o = 0; o < j.OC; ++o) {
            const float* d = dY + (size_t)o * cols;
            double s = 0;  // cols can be thousands of terms: sum in double
            for (int q = 0; q < cols; ++q) s += d[q];
            db[o] += (float)s;
        }
    if (dw) {
        const float* B = lower(j, inp, n0, nb, col);
        for (int g = 0; g < j.G; ++g)  // dw_g (OCg, Kg) += dY_g (OCg, cols) * col_g^T (cols, Kg)
            sgemm(false, true, j.OCg, j.Kg, cols, 1.0f, dY + (size_t)g * j.OCg * cols, cols,
                  B + (size_t)g * j.Kg * cols, cols, 1.0f, dw + (size_t)g * j.OCg * j.Kg, j.Kg);
    }
    if (dinp) {
        // dcol_g (Kg, cols) = w_g^T (Kg, OCg) * dY_g (OCg, cols), then col2im. One pointwise image:
        // dcol is dx itself, so the GEMM adds into it directly.
        const bool direct = nb == 1 && j.pointwise;
        float* dcol = direct ? dinp + (size_t)n0 * j.chw : col;
        for (int g = 0; g < j.G; ++g)
            sgemm(true, false, j.Kg, cols, j.OCg, 1.0f, weight + (size_t)g * j.OCg * j.Kg, j.Kg,
                  dY + (size_t)g * j.OCg * cols, cols, direct ? 1.0f : 0.0f, dcol + (size_t)g * j.Kg * cols, cols);
        if (!direct)
            for (int i = 0; i < nb; ++i)
                col2im(j.geo, col + (size_t)i * j.P, (size_t)cols, dinp + (size_t)(n0 + i) * j.chw);
    }
}

// Image n on `threads` threads inside it (batch-1 inference), in one parallel region, each thread
// multiplying its own part with the GEMM on its thread alone:
//   - whole groups, when the groups divide among the threads (conv2, 4, 5 of CaffeNet): each
//     thread lowers its groups' channels and multiplies them;
//   - else, when the column matrix is the larger operand (conv1: 96 x 363 weights, 363 x 3025
//     columns), a band of output rows of every group: each thread lowers its rows and multiplies
//     w_g by its columns;
//   - else (conv3: 384 x 2304 weights, 2304 x 169 columns), a share of the output channels: the
//     threads lower bands of rows together, wait for each other, and multiply their own rows of
//     w_g by all the columns.
// Each operand is packed once (cutting along the larger one), and in the first two cases no
// thread waits between the im2col and the GEMM. A GEMM's summation order does not depend on how
// its rows or columns are cut, so the result is bit for bit that of forward_chunk.
void forward_image_shared(const ConvJob& j, float* out, const float* inp, const float* weight, const float* bias,
                          int n, float* col, int threads) {
    const int OH = j.geo.out_h(), OW = j.geo.out_w();
    const bool by_rows_if_not_groups = (size_t)j.Kg * j.P >= (size_t)j.OCg * j.Kg;
    const float* x = inp + (size_t)n * j.chw;
    float* y = out + (size_t)n * j.OC * j.P;
    const float* B = j.pointwise ? x : col;  // (C KH KW, P)
    Im2ColGeom gg = j.geo;                   // one group's channels
    gg.c = j.Cg;
    const size_t group_in = (size_t)j.Cg * j.geo.h * j.geo.w;
#pragma omp parallel num_threads(threads)
    {
        // The team actually started (OpenMP may give fewer threads than asked for).
        const int k = thread_id(), T = team_size();
        const bool by_group = j.G % T == 0, by_rows = !by_group && by_rows_if_not_groups;
        // Groups [g0, g1), output rows [r0, r1) (lowered by this thread), channels [o0, o1) of each group.
        int g0 = 0, g1 = j.G, r0 = part_begin(OH, k, T), r1 = part_begin(OH, k + 1, T), o0 = 0, o1 = j.OCg;
        if (by_group) g0 = part_begin(j.G, k, T), g1 = part_begin(j.G, k + 1, T), r0 = 0, r1 = OH;
        if (!j.pointwise)
            for (int g = g0; g < g1; ++g) im2col_band(gg, x + g * group_in, col + (size_t)g * j.Kg * j.P, j.P, r0, r1);
        int c0 = r0 * OW, nc = (r1 - r0) * OW;
        if (!by_group && !by_rows) {  // every column, this thread's share of the channels (8-row steps: the GEMM's MR)
#pragma omp barrier
            c0 = 0, nc = j.P;
            o0 = std::min(j.OCg, part_begin((j.OCg + 7) / 8, k, T) * 8);
            o1 = std::min(j.OCg, part_begin((j.OCg + 7) / 8, k + 1, T) * 8);
        }
        for (int g = g0; g < g1 && nc > 0 && o1 > o0; ++g) {
            float* yg = y + ((size_t)g * j.OCg + o0) * j.P;
            sgemm(false, false, o1 - o0, nc, j.Kg, 1.0f, weight + ((size_t)g * j.OCg + o0) * j.Kg, j.Kg,
                  B + (size_t)g * j.Kg * j.P + c0, j.P, 0.0f, yg + c0, j.P);
            if (bias)
                for (int o = o0; o < o1; ++o) {
                    float* yo = yg + (size_t)(o - o0) * j.P + c0;
                    const float bo = bias[g * j.OCg + o];
                    for (int q = 0; q < nc; ++q) yo[q] += bo;
                }
        }
    }
}

// Winograd F(2x2, 3x3) on one chunk (winograd.h): V = the input transform (16, C, T), then per
// position xi and group g  M_xi,g (OCg, T) = U_xi,g (OCg, Cg) * V_xi,g (Cg, T), then y = A^T M A.
void wino_forward_chunk(const ConvJob& j, float* out, const float* inp, const float* U, const float* bias, int chunk,
                        float* col, float* ycol) {
    const int n0 = j.first_image(chunk), nb = j.images(chunk), T = nb * j.wg.tiles();
    const size_t xv = winograd_stride(j.wg.c, T), xm = winograd_stride(j.OC, T), xu = j.wino_xu();
    float* V = col;
    float* M = ycol;
    winograd_input(j.wg, inp + (size_t)n0 * j.chw, nb, V, T, xv, j.wino_plane(col));
    for (int xi = 0; xi < 16; ++xi)
        for (int g = 0; g < j.G; ++g)
            sgemm(false, false, j.OCg, T, j.Cg, 1.0f, U + xi * xu + (size_t)g * j.OCg * j.Cg, j.Cg,
                  V + xi * xv + (size_t)g * j.Cg * T, T, 0.0f, M + xi * xm + (size_t)g * j.OCg * T, T);
    winograd_output(j.wg, M, T, xm, bias, nb, out + (size_t)n0 * j.OC * j.P);
}

// The backward pass of one chunk: dM = A dy A^T; dU (+)= dM V^T (first: overwrite the slice's
// sums); dV = U^T dM (into V's buffer, once dU is done with V); dx += B dV B^T; db += sum of dy.
void wino_backward_chunk(const ConvJob& j, float* dinp, float* dU, float* db, bool first, const float* dout,
                         const float* inp, const float* U, int chunk, float* col, float* ycol) {
    const int n0 = j.first_image(chunk), nb = j.images(chunk), T = nb * j.wg.tiles();
    const size_t xv = winograd_stride(j.wg.c, T), xm = winograd_stride(j.OC, T), xu = j.wino_xu();
    float* V = col;
    float* dM = ycol;
    if (db)
        for (int o = 0; o < j.OC; ++o) {
            double s = 0;  // nb * P terms: sum in double, as the GEMM route
            for (int i = 0; i < nb; ++i) {
                const float* d = dout + ((size_t)(n0 + i) * j.OC + o) * j.P;
                for (int q = 0; q < j.P; ++q) s += d[q];
            }
            db[o] = first ? (float)s : db[o] + (float)s;
        }
    if (!dU && !dinp) return;
    winograd_output_backward(j.wg, dout + (size_t)n0 * j.OC * j.P, nb, dM, T, xm);
    if (dU) {
        winograd_input(j.wg, inp + (size_t)n0 * j.chw, nb, V, T, xv, j.wino_plane(col));
        for (int xi = 0; xi < 16; ++xi)  // dU_xi,g (OCg, Cg) (+)= dM_xi,g (OCg, T) * V_xi,g^T (T, Cg)
            for (int g = 0; g < j.G; ++g)
                sgemm(false, true, j.OCg, j.Cg, T, 1.0f, dM + xi * xm + (size_t)g * j.OCg * T, T,
                      V + xi * xv + (size_t)g * j.Cg * T, T, first ? 0.0f : 1.0f,
                      dU + xi * xu + (size_t)g * j.OCg * j.Cg, j.Cg);
    }
    if (dinp) {
        for (int xi = 0; xi < 16; ++xi)  // dV_xi,g (Cg, T) = U_xi,g^T (Cg, OCg) * dM_xi,g (OCg, T)
            for (int g = 0; g < j.G; ++g)
                sgemm(true, false, j.Cg, T, j.OCg, 1.0f, U + xi * xu + (size_t)g * j.OCg * j.Cg, j.Cg,
                      dM + xi * xm + (size_t)g * j.OCg * T, T, 0.0f, V + xi * xv + (size_t)g * j.Cg * T, T);
        winograd_input_backward(j.wg, V, T, xv, nb, dinp + (size_t)n0 * j.chw, j.wino_plane(col));
    }
}

// Threads for `tasks` independent tasks on `slots` scratch areas: all of them when the tasks
// divide evenly or are many; otherwise 1 (the tasks then run one after the other, each GEMM and
// im2col using the threads inside). Below kParallelMacs multiply-adds in all, waking threads
// costs more than it saves (a gradient check runs thousands of tiny forwards).
constexpr double kParallelMacs = 1 << 21;

int outer_threads(int tasks, int slots, double macs) {
#ifdef _OPENMP
    const int t = std::min(omp_get_max_threads(), slots);
    if (t > 1 && !omp_in_parallel() && macs >= kParallelMacs && tasks >= 2 && (tasks % t == 0 || tasks >= 4 * t))
        return t;
#else
    (void)tasks, (void)slots, (void)macs;
#endif
    return 1;
}

// Threads that share out the work of one chunk, when the chunks are not shared out (outer = 1):
// chunks of one image with at least kParallelMacs multiply-adds each (batch-1 inference).
int inner_threads(const ConvJob& j, int outer) {
#ifdef _OPENMP
    if (outer == 1 && !omp_in_parallel() && j.plan.chunk == 1 && j.macs() / j.N >= kParallelMacs)
        return omp_get_max_threads();
#else
    (void)j, (void)outer;
#endif
    return 1;
}

}  // namespace

void conv_forward(float* out, const float* inp, const float* weight, const float* bias, Shape in,
                  const ConvParam& p, const ConvPlan& plan, float* work) {
    const ConvJob j(in, p, plan);
    const int threads = outer_threads(plan.chunks, plan.slots, j.macs());
    const int inner = plan.winograd ? 1 : inner_threads(j, threads);
    float* U = plan.winograd ? j.wino_u(work) : nullptr;
    if (U) winograd_weights(weight, j.OC, j.Cg, U, j.wino_xu());
    if (inner > 1) {  // images in turn, the threads sharing each
        for (int c = 0; c < plan.chunks; ++c) forward_image_shared(j, out, inp, weight, bias, c, j.col(work, 0), inner);
        return;
    }
    run_tasks(plan.chunks, threads, [&](int c) {
        const int slot = threads > 1 ? thread_id() : 0;
        if (U)
            wino_forward_chunk(j, out, inp, U, bias, c, j.col(work, slot), j.ycol(work, slot));
        else
            forward_chunk(j, out, inp, weight, bias, c, j.col(work, slot), j.ycol(work, slot));
    });
}

namespace {

// conv_backward on the Winograd route: as the GEMM route, slices of chunks sum their weight and
// bias gradients into their own partials (here always, in the transformed domain), added in
// slice order at the end and only then transformed back: dweight += G^T (sum of dU) G.
void wino_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, const ConvJob& j, float* work) {
    const ConvPlan& plan = j.plan;
    const int S = plan.slices;
    const size_t ucount = plan.u_floats;
    float* U = j.wino_u(work);
    // U again rather than the forward's: backward may be called on weights changed since then.
    if (dinp) winograd_weights(weight, j.OC, j.Cg, U, j.wino_xu());
    const int threads = outer_threads(S, plan.slots, 2 * j.macs());
    run_tasks(S, threads, [&](int s) {
        const int slot = threads > 1 ? thread_id() : 0;
        float* part = j.partial(work, s);
        float* dU = dweight ? part : nullptr;
        float* db = dbias ? part + ucount : nullptr;
        const int c0 = j.slice_begin(s), c1 = j.slice_begin(s + 1);
        for (int c = c0; c < c1; ++c)
            wino_backward_chunk(j, dinp, dU, db, c == c0, dout, inp, U, c, j.col(work, slot), j.ycol(work, slot));
    });
    if (!dweight && !dbias) return;
    // partial_0 = partial_0 + partial_1 + ... (slice_sum reads partial_0[i] before writing it).
    float* sum = j.partial(work, 0);
    const size_t total = ucount + j.OC;
#pragma omp parallel for schedule(static) if (S > 1 && total >= 65536)
    for (size_t i = 0; i < total; ++i) {
        if ((i < ucount && !dweight) || (i >= ucount && !dbias)) continue;
        sum[i] = j.slice_sum(work, i);
    }
    if (dweight) winograd_weights_backward(sum, j.wino_xu(), j.OC, j.Cg, dweight);
    if (dbias)
        for (int o = 0; o < j.OC; ++o) dbias[o] += sum[ucount + o];
}

}  // namespace

void conv_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, Shape in, const ConvParam& p, const ConvPlan& plan, float* work) {
    const ConvJob j(in, p, plan);
    if (plan.winograd) {
        wino_backward(dinp, dweight, dbias, dout, inp, weight, j, work);
        return;
    }
    const int S = plan.slices;
    const bool partials = S > 1 && (dweight || dbias);
    const int threads = outer_threads(S, plan.slots, 2 * j.macs());
    run_tasks(S, threads, [&](int s) {
        const int slot = threads > 1 ? thread_id() : 0;
        float* dw = dweight;
        float* db = dbias;
        if (partials) {  // this slice's sums start from zero and are added to the caller's below
            float* part = j.partial(work, s);
            std::fill(part, part + plan.partial_floats, 0.0f);
            dw = dweight ? part : nullptr;
            db = dbias ? part + j.wcount : nullptr;
        }
        const int c0 = j.slice_begin(s), c1 = j.slice_begin(s + 1);
        for (int c = c0; c < c1; ++c)
            backward_chunk(j, dinp, dw, db, dout, inp, weight, c, j.col(work, slot), j.ycol(work, slot));
    });
    if (!partials) return;
    // dweight += partial_0 + partial_1 + ... (slice_sum).
    const size_t total = j.wcount + (dbias ? (size_t)j.OC : 0);
#pragma omp parallel for schedule(static) if (total >= 65536)
    for (size_t i = 0; i < total; ++i) {
        if (i < j.wcount && !dweight) continue;
        const float s = j.slice_sum(work, i);
        if (i < j.wcount)
            dweight[i] += s;
        else
            dbias[i - j.wcount] += s;
    }
}

void conv_forward(float* out, const float* inp, const float* weight, const float* bias, Shape in,
                  const ConvParam& p, float* col) {
    conv_forward(out, inp, weight, bias, in, p, single_image_plan(in, p), col);
}

void conv_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, Shape in, const ConvParam& p, float* col) {
    conv_backward(dinp, dweight, dbias, dout, inp, weight, in, p, single_image_plan(in, p), col);
}

template <class T>
void conv_forward_naive(T* out, const T* inp, const T* weight, const Same<T>* bias, Shape in, const ConvParam& p) {
    const Im2ColGeom geo = geom_of(in, p);
    const int OH = geo.out_h(), OW = geo.out_w(), Cg = in.c / p.group, OCg = p.num_output / p.group;
    const int KH = p.kernel_h, KW = p.kernel_w;
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < p.num_output; ++o)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    const int g = o / OCg;
                    double s = bias ? bias[o] : 0.0;
                    for (int ci = 0; ci < Cg; ++ci)
                        for (int kh = 0; kh < KH; ++kh)
                            for (int kw = 0; kw < KW; ++kw) {
                                const int ih = oh * p.stride_h - p.pad_h + kh, iw = ow * p.stride_w - p.pad_w + kw;
                                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                                const int c = g * Cg + ci;
                                s += (double)inp[(((size_t)n * in.c + c) * in.h + ih) * in.w + iw] *
                                     weight[(((size_t)o * Cg + ci) * KH + kh) * KW + kw];
                            }
                    out[(((size_t)n * p.num_output + o) * OH + oh) * OW + ow] = (T)s;
                }
}

template <class T>
void conv_backward_naive(Same<T>* dinp, Same<T>* dweight, Same<T>* dbias, const T* dout, const T* inp,
                         const T* weight, Shape in, const ConvParam& p) {
    const Im2ColGeom geo = geom_of(in, p);
    const int OH = geo.out_h(), OW = geo.out_w(), Cg = in.c / p.group, OCg = p.num_output / p.group;
    const int KH = p.kernel_h, KW = p.kernel_w;
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < p.num_output; ++o)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    const int g = o / OCg;
                    const T d = dout[(((size_t)n * p.num_output + o) * OH + oh) * OW + ow];
                    if (dbias) dbias[o] += d;
                    for (int ci = 0; ci < Cg; ++ci)
                        for (int kh = 0; kh < KH; ++kh)
                            for (int kw = 0; kw < KW; ++kw) {
                                const int ih = oh * p.stride_h - p.pad_h + kh, iw = ow * p.stride_w - p.pad_w + kw;
                                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                                const size_t xi = (((size_t)n * in.c + g * Cg + ci) * in.h + ih) * in.w + iw;
                                const size_t wi = (((size_t)o * Cg + ci) * KH + kh) * KW + kw;
                                if (dweight) dweight[wi] += d * inp[xi];
                                if (dinp) dinp[xi] += d * weight[wi];
                            }
                }
}

template void conv_forward_naive(float*, const float*, const float*, const float*, Shape, const ConvParam&);
template void conv_forward_naive(double*, const double*, const double*, const double*, Shape, const ConvParam&);
template void conv_backward_naive(float*, float*, float*, const float*, const float*, const float*, Shape, const ConvParam&);
template void conv_backward_naive(double*, double*, double*, const double*, const double*, const double*, Shape,
                                  const ConvParam&);

LayerShapes ConvolutionLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes s;
    const Shape in = bottom.at(0);
    s.error = conv_check(in, p_);
    if (!s.error.empty()) return s;
    s.top = {conv_output_shape(in, p_)};
    s.param.push_back({"weight", Shape(p_.num_output, in.c / p_.group, p_.kernel_h, p_.kernel_w)});
    if (p_.bias_term) s.param.push_back({"bias", Shape(p_.num_output)});
    return s;
}

ConvPlan ConvolutionLayer::plan_for(Shape in) const {
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
#else
    const int threads = 1;
#endif
    return conv_plan(in, p_, threads, 0, algo_);
}

double ConvolutionLayer::buffer_floats(const std::vector<Shape>& bottom) const {
    return (double)plan_for(bottom.at(0)).workspace_floats();
}

void ConvolutionLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    if (top[0] == bottom[0]) fail("cannot run in place (top and bottom are the same blob)");
    const Shape in = bottom[0]->shape();
    const LayerShapes s = shapes({in});
    if (!s.error.empty()) fail(s.error + "; bottom '" + bottom[0]->name + "' is " + in.str());
    top[0]->reshape(s.top[0]);
    ensure_param(0, s.param[0].name, s.param[0].shape, p_.weight_filler);
    if (p_.bias_term) ensure_param(1, s.param[1].name, s.param[1].shape, p_.bias_filler);
    // The batched kernels' scratch, sized once for the shape (Tensor::reshape keeps capacity).
    plan_ = plan_for(in);
    const size_t floats = plan_.workspace_floats();
    if (floats > (size_t)INT32_MAX)
        fail("scratch of " + std::to_string(floats) + " floats is too large for input " + in.str());
    work_.reshape(Shape((int)floats));
}

void ConvolutionLayer::forward(const Blobs& bottom, const Blobs& top) {
    conv_forward(top[0]->data.data(), bottom[0]->data.data(), params_[0].value.data(),
                 p_.bias_term ? params_[1].value.data() : nullptr, bottom[0]->shape(), p_, plan_, work_.data());
}

void ConvolutionLayer::backward(const Blobs& top, const Blobs& bottom) {
    conv_backward(propagate_down(0) ? bottom[0]->diff.data() : nullptr, params_[0].grad.data(),
                  p_.bias_term ? params_[1].grad.data() : nullptr, top[0]->diff.data(), bottom[0]->data.data(),
                  params_[0].value.data(), bottom[0]->shape(), p_, plan_, work_.data());
}

}  // namespace dlbhc
