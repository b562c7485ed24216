// nn/winograd.cpp -- see winograd.h. Every transform is written out as the matrix products of
// winograd.h, rows first (the left factor), then columns (the right factor); the comments name
// the product each line computes.
#include "nn/winograd.h"

#include <algorithm>

#include "nn/winograd_avx512.h"

namespace dlbhc {

// The AVX-512 transforms (winograd_avx512.h) when the CPU has AVX-512 and the plane fits a
// register; the portable ones below otherwise.
bool winograd_vectorised(const WinogradGeom& g) {
#if defined(__x86_64__)
    static const bool cpu = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") != 0;
    }();
    return cpu && winograd_avx512_fits(g);
#else
    (void)g;
    return false;
#endif
}

void winograd_weights(const float* w, int oc, int cg, float* U, size_t xs) {
    for (int o = 0; o < oc; ++o)
        for (int ci = 0; ci < cg; ++ci) {
            const float* g = w + ((size_t)o * cg + ci) * 9;
            float u[4][3];  // G g: rows
            for (int m = 0; m < 3; ++m) {
                u[0][m] = g[m];
                u[1][m] = 0.5f * (g[m] + g[3 + m] + g[6 + m]);
                u[2][m] = 0.5f * (g[m] - g[3 + m] + g[6 + m]);
                u[3][m] = g[6 + m];
            }
            float* dst = U + (size_t)o * cg + ci;
            for (int i = 0; i < 4; ++i) {  // (G g) G^T: columns
                dst[(4 * i + 0) * xs] = u[i][0];
                dst[(4 * i + 1) * xs] = 0.5f * (u[i][0] + u[i][1] + u[i][2]);
                dst[(4 * i + 2) * xs] = 0.5f * (u[i][0] - u[i][1] + u[i][2]);
                dst[(4 * i + 3) * xs] = u[i][2];
            }
        }
}

void winograd_weights_backward(const float* dU, size_t xs, int oc, int cg, float* dw) {
    for (int o = 0; o < oc; ++o)
        for (int ci = 0; ci < cg; ++ci) {
            const float* src = dU + (size_t)o * cg + ci;
            float d[16];
            for (int k = 0; k < 16; ++k) d[k] = src[k * xs];
            float t[3][4];  // G^T dU: rows
            for (int l = 0; l < 4; ++l) {
                t[0][l] = d[l] + 0.5f * (d[4 + l] + d[8 + l]);
                t[1][l] = 0.5f * (d[4 + l] - d[8 + l]);
                t[2][l] = 0.5f * (d[4 + l] + d[8 + l]) + d[12 + l];
            }
            float* g = dw + ((size_t)o * cg + ci) * 9;
            for (int k = 0; k < 3; ++k) {  // (G^T dU) G: columns
                g[3 * k + 0] += t[k][0] + 0.5f * (t[k][1] + t[k][2]);
                g[3 * k + 1] += 0.5f * (t[k][1] - t[k][2]);
                g[3 * k + 2] += 0.5f * (t[k][1] + t[k][2]) + t[k][3];
            }
        }
}

namespace {

// plane ((2 TH + 2) x (2 TW + 2)) = the channel x (H, W) at offset (PH, PW), zeros around it.
// The plane covers every input position a tile reads (2 TH + 1 >= H + PH - 1 and so on).
void fill_plane(const WinogradGeom& g, const float* x, float* plane) {
    const int pw = 2 * g.tiles_w() + 2;
    std::fill(plane, plane + g.plane_floats(), 0.0f);
    for (int r = 0; r < g.h; ++r)
        std::copy(x + (size_t)r * g.w, x + (size_t)(r + 1) * g.w, plane + (size_t)(r + g.ph) * pw + g.pw);
}

}  // namespace

void winograd_input_portable(const WinogradGeom& g, const float* x, int nb, float* V, size_t ld, size_t xs, float* plane) {
    const int TH = g.tiles_h(), TW = g.tiles_w(), T = g.tiles(), PW = 2 * TW + 2;
    const size_t hw = (size_t)g.h * g.w;
    for (int i = 0; i < nb; ++i)
        for (int c = 0; c < g.c; ++c) {
            fill_plane(g, x + ((size_t)i * g.c + c) * hw, plane);
            float* v = V + (size_t)c * ld + (size_t)i * T;
            for (int th = 0; th < TH; ++th) {
                const float* r0 = plane + (size_t)(2 * th) * PW;
                const float* r1 = r0 + PW;
                const float* r2 = r1 + PW;
                const float* r3 = r2 + PW;
                float* vt = v + (size_t)th * TW;
                for (int tw = 0; tw < TW; ++tw) {
                    const int s = 2 * tw;
                    float b[4][4];  // B^T d: rows
                    for (int j = 0; j < 4; ++j) {
                        b[0][j] = r0[s + j] - r2[s + j];
                        b[1][j] = r1[s + j] + r2[s + j];
                        b[2][j] = r2[s + j] - r1[s + j];
                        b[3][j] = r1[s + j] - r3[s + j];
                    }
                    for (int k = 0; k < 4; ++k) {  // (B^T d) B: columns
                        vt[(4 * k + 0) * xs + tw] = b[k][0] - b[k][2];
                        vt[(4 * k + 1) * xs + tw] = b[k][1] + b[k][2];
                        vt[(4 * k + 2) * xs + tw] = b[k][2] - b[k][1];
                        vt[(4 * k + 3) * xs + tw] = b[k][1] - b[k][3];
                    }
                }
            }
        }
}

void winograd_output_portable(const WinogradGeom& g, const float* M, size_t ld, size_t xs, const float* bias, int nb, float* y) {
    const int OH = g.out_h(), OW = g.out_w(), TH = g.tiles_h(), TW = g.tiles_w(), T = g.tiles();
    for (int i = 0; i < nb; ++i)
        for (int o = 0; o < g.oc; ++o) {
            const float* m = M + (size_t)o * ld + (size_t)i * T;
            float* yo = y + ((size_t)i * g.oc + o) * OH * OW;
            const float bo = bias ? bias[o] : 0.0f;
            for (int th = 0; th < TH; ++th) {
                const int oh = 2 * th;
                float* y0 = yo + (size_t)oh * OW;
                float* y1 = y0 + OW;
                const bool row1 = oh + 1 < OH;
                for (int tw = 0; tw < TW; ++tw) {
                    const float* mt = m + (size_t)th * TW + tw;
                    float p[4][2];  // M A: columns
                    for (int k = 0; k < 4; ++k) {
                        const float a = mt[(4 * k + 0) * xs], b = mt[(4 * k + 1) * xs], c = mt[(4 * k + 2) * xs],
                                    d = mt[(4 * k + 3) * xs];
                        p[k][0] = a + b + c;
                        p[k][1] = b - c - d;
                    }
                    const int ow = 2 * tw;  // A^T (M A): rows
                    y0[ow] = p[0][0] + p[1][0] + p[2][0] + bo;
                    if (ow + 1 < OW) y0[ow + 1] = p[0][1] + p[1][1] + p[2][1] + bo;
                    if (row1) {
                        y1[ow] = p[1][0] - p[2][0] - p[3][0] + bo;
                        if (ow + 1 < OW) y1[ow + 1] = p[1][1] - p[2][1] - p[3][1] + bo;
                    }
                }
            }
        }
}

void winograd_output_backward_portable(const WinogradGeom& g, const float* dy, int nb, float* dM, size_t ld, size_t xs) {
    const int OH = g.out_h(), OW = g.out_w(), TH = g.tiles_h(), TW = g.tiles_w(), T = g.tiles();
    for (int i = 0; i < nb; ++i)
        for (int o = 0; o < g.oc; ++o) {
            const float* dyo = dy + ((size_t)i * g.oc + o) * OH * OW;
            float* m = dM + (size_t)o * ld + (size_t)i * T;
            for (int th = 0; th < TH; ++th) {
                const int oh = 2 * th;
                const float* e0 = dyo + (size_t)oh * OW;
                const float* e1 = e0 + OW;
                const bool row1 = oh + 1 < OH;
                for (int tw = 0; tw < TW; ++tw) {
                    const int ow = 2 * tw;
                    const bool col1 = ow + 1 < OW;
                    const float e00 = e0[ow], e01 = col1 ? e0[ow + 1] : 0.0f;
                    const float e10 = row1 ? e1[ow] : 0.0f, e11 = row1 && col1 ? e1[ow + 1] : 0.0f;
                    // A dy: rows (4 x 2)
                    const float r[4][2] = {{e00, e01}, {e00 + e10, e01 + e11}, {e00 - e10, e01 - e11}, {-e10, -e11}};
                    float* mt = m + (size_t)th * TW + tw;
                    for (int k = 0; k < 4; ++k) {  // (A dy) A^T: columns
                        mt[(4 * k + 0) * xs] = r[k][0];
                        mt[(4 * k + 1) * xs] = r[k][0] + r[k][1];
                        mt[(4 * k + 2) * xs] = r[k][0] - r[k][1];
                        mt[(4 * k + 3) * xs] = -r[k][1];
                    }
                }
            }
        }
}

void winograd_input_backward_portable(const WinogradGeom& g, const float* dV, size_t ld, size_t xs, int nb, float* dx,
                             float* plane) {
    const int TH = g.tiles_h(), TW = g.tiles_w(), T = g.tiles(), PW = 2 * TW + 2;
    const size_t hw = (size_t)g.h * g.w, pf = g.plane_floats();
    for (int i = 0; i < nb; ++i)
        for (int c = 0; c < g.c; ++c) {
            std::fill(plane, plane + pf, 0.0f);
            const float* v = dV + (size_t)c * ld + (size_t)i * T;
            for (int th = 0; th < TH; ++th)
                for (int tw = 0; tw < TW; ++tw) {
                    const float* vt = v + (size_t)th * TW + tw;
                    float d[16];
                    for (int k = 0; k < 16; ++k) d[k] = vt[k * xs];
                    float s[4][4];  // B dV: rows
                    for (int l = 0; l < 4; ++l) {
                        s[0][l] = d[l];
                        s[1][l] = d[4 + l] - d[8 + l] + d[12 + l];
                        s[2][l] = -d[l] + d[4 + l] + d[8 + l];
                        s[3][l] = -d[12 + l];
                    }
                    float* p = plane + (size_t)(2 * th) * PW + 2 * tw;
                    for (int k = 0; k < 4; ++k, p += PW) {  // (B dV) B^T: columns, added into the plane
                        p[0] += s[k][0];
                        p[1] += s[k][1] - s[k][2] + s[k][3];
                        p[2] += -s[k][0] + s[k][1] + s[k][2];
                        p[3] += -s[k][3];
                    }
                }
            float* xc = dx + ((size_t)i * g.c + c) * hw;
            for (int r = 0; r < g.h; ++r) {
                const float* src = plane + (size_t)(r + g.ph) * PW + g.pw;
                float* dst = xc + (size_t)r * g.w;
                for (int q = 0; q < g.w; ++q) dst[q] += src[q];
            }
        }
}

void winograd_input(const WinogradGeom& g, const float* x, int nb, float* V, size_t ld, size_t xs, float* plane) {
#if defined(__x86_64__)
    if (winograd_vectorised(g)) return winograd_input_avx512(g, x, nb, V, ld, xs);
#endif
    winograd_input_portable(g, x, nb, V, ld, xs, plane);
}

void winograd_output(const WinogradGeom& g, const float* M, size_t ld, size_t xs, const float* bias, int nb, float* y) {
#if defined(__x86_64__)
    if (winograd_vectorised(g)) return winograd_output_avx512(g, M, ld, xs, bias, nb, y);
#endif
    winograd_output_portable(g, M, ld, xs, bias, nb, y);
}

void winograd_output_backward(const WinogradGeom& g, const float* dy, int nb, float* dM, size_t ld, size_t xs) {
#if defined(__x86_64__)
    if (winograd_vectorised(g)) return winograd_output_backward_avx512(g, dy, nb, dM, ld, xs);
#endif
    winograd_output_backward_portable(g, dy, nb, dM, ld, xs);
}

void winograd_input_backward(const WinogradGeom& g, const float* dV, size_t ld, size_t xs, int nb, float* dx,
                             float* plane) {
#if defined(__x86_64__)
    if (winograd_vectorised(g)) return winograd_input_backward_avx512(g, dV, ld, xs, nb, dx);
#endif
    winograd_input_backward_portable(g, dV, ld, xs, nb, dx, plane);
}

}  // namespace dlbhc
