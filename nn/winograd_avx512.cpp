// nn/winograd_avx512.cpp -- see winograd_avx512.h. The arithmetic is that of winograd.cpp, on
// vectors whose lane tw is tile column tw (or, for whole rows, lane s is plane column s):
//   a tile row's 4 input rows are 4 registers; B^T d (rows) is 4 vector adds; the columns of a
//   tile are lanes 2 tw .. 2 tw + 3, gathered into "lane tw" vectors by permutes.
// Only the low TW <= 7 lanes of the tile vectors mean anything; loads zero the others and the
// stores are masked to TW (or OW) lanes.
#include "nn/winograd_avx512.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace dlbhc {

namespace {

#define DLBHC_AVX512 __attribute__((target("avx512f")))

// Lane tw of perm(stride2(o), v) is v[2 tw + o] (indices wrap at 16; those lanes are unused).
DLBHC_AVX512 inline __m512i stride2(int o) {
    return _mm512_set_epi32(14 + o, 12 + o, 10 + o, 8 + o, 6 + o, 4 + o, 2 + o, o, 14 + o, 12 + o, 10 + o, 8 + o,
                            6 + o, 4 + o, 2 + o, o);
}
// Lane s of perm(shift(d), v) is v[s + d] (mod 16: callers mask the lanes that wrap).
DLBHC_AVX512 inline __m512i shift(int d) {
    return _mm512_and_epi32(_mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                             _mm512_set1_epi32(d)),
                            _mm512_set1_epi32(15));
}
// permutex2var(a, interleave(), b) = a[0] b[0] a[1] b[1] ... a[7] b[7].
DLBHC_AVX512 inline __m512i interleave() {
    return _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
}
// permutexvar (through its zero-masking form: the plain one trips GCC 12's -Wmaybe-uninitialized).
DLBHC_AVX512 inline __m512 perm(__m512i idx, __m512 v) { return _mm512_maskz_permutexvar_ps((__mmask16)0xFFFF, idx, v); }
inline __mmask16 low_lanes(int n) { return (__mmask16)((1u << n) - 1); }

// dx row (plane_row - PH) += plane columns PW .. PW + W - 1 of `a` (nothing for padding rows).
DLBHC_AVX512 inline void add_plane_row(const WinogradGeom& g, int plane_row, __m512 a, __m512i from_plane,
                                       __mmask16 wmask, float* xc) {
    const int r = plane_row - g.ph;
    if (r < 0 || r >= g.h) return;
    float* dst = xc + (size_t)r * g.w;
    const __m512 add = perm(from_plane, a);
    _mm512_mask_storeu_ps(dst, wmask, _mm512_add_ps(_mm512_maskz_loadu_ps(wmask, dst), add));
}

}  // namespace

DLBHC_AVX512 void winograd_input_avx512(const WinogradGeom& g, const float* x, int nb, float* V, size_t ld,
                                        size_t xs) {
    const int TH = g.tiles_h(), TW = g.tiles_w(), T = g.tiles();
    const size_t hw = (size_t)g.h * g.w;
    const __mmask16 wmask = low_lanes(g.w), tmask = low_lanes(TW);
    // An image row (W lanes) moved to plane columns PW .. PW + W - 1; lanes below PW are padding.
    const __mmask16 padded = (__mmask16)(wmask << g.pw);
    const __m512i to_plane = shift(-g.pw);
    const __m512i p0 = stride2(0), p1 = stride2(1), p2 = stride2(2), p3 = stride2(3);
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < nb; ++i)
        for (int c = 0; c < g.c; ++c) {
            const float* xc = x + ((size_t)i * g.c + c) * hw;
            float* v = V + (size_t)c * ld + (size_t)i * T;
            for (int th = 0; th < TH; ++th) {
                __m512 r[4];  // plane rows 2 th .. 2 th + 3
                for (int k = 0; k < 4; ++k) {
                    const int ir = 2 * th + k - g.ph;
                    r[k] = ir >= 0 && ir < g.h
                               ? _mm512_maskz_permutexvar_ps(padded, to_plane, _mm512_maskz_loadu_ps(wmask, xc + (size_t)ir * g.w))
                               : zero;
                }
                const __m512 b[4] = {_mm512_sub_ps(r[0], r[2]), _mm512_add_ps(r[1], r[2]), _mm512_sub_ps(r[2], r[1]),
                                     _mm512_sub_ps(r[1], r[3])};  // B^T d: rows
                float* vt = v + (size_t)th * TW;
                for (int k = 0; k < 4; ++k) {  // (B^T d) B: columns 2 tw .. 2 tw + 3 of each tile
                    const __m512 c0 = perm(p0, b[k]), c1 = perm(p1, b[k]),
                                 c2 = perm(p2, b[k]), c3 = perm(p3, b[k]);
                    _mm512_mask_storeu_ps(vt + (4 * k + 0) * xs, tmask, _mm512_sub_ps(c0, c2));
                    _mm512_mask_storeu_ps(vt + (4 * k + 1) * xs, tmask, _mm512_add_ps(c1, c2));
                    _mm512_mask_storeu_ps(vt + (4 * k + 2) * xs, tmask, _mm512_sub_ps(c2, c1));
                    _mm512_mask_storeu_ps(vt + (4 * k + 3) * xs, tmask, _mm512_sub_ps(c1, c3));
                }
            }
        }
}

DLBHC_AVX512 void winograd_output_avx512(const WinogradGeom& g, const float* M, size_t ld, size_t xs,
                                         const float* bias, int nb, float* y) {
    const int OH = g.out_h(), OW = g.out_w(), TH = g.tiles_h(), TW = g.tiles_w(), T = g.tiles();
    const __mmask16 tmask = low_lanes(TW), omask = low_lanes(OW);
    const __m512i ilv = interleave();
    for (int i = 0; i < nb; ++i)
        for (int o = 0; o < g.oc; ++o) {
            const float* m = M + (size_t)o * ld + (size_t)i * T;
            float* yo = y + ((size_t)i * g.oc + o) * OH * OW;
            const __m512 bo = _mm512_set1_ps(bias ? bias[o] : 0.0f);
            for (int th = 0; th < TH; ++th) {
                const float* mt = m + (size_t)th * TW;
                __m512 p[4][2];  // M A: columns
                for (int k = 0; k < 4; ++k) {
                    const __m512 a = _mm512_maskz_loadu_ps(tmask, mt + (4 * k + 0) * xs),
                                 b = _mm512_maskz_loadu_ps(tmask, mt + (4 * k + 1) * xs),
                                 c = _mm512_maskz_loadu_ps(tmask, mt + (4 * k + 2) * xs),
                                 d = _mm512_maskz_loadu_ps(tmask, mt + (4 * k + 3) * xs);
                    p[k][0] = _mm512_add_ps(_mm512_add_ps(a, b), c);
                    p[k][1] = _mm512_sub_ps(_mm512_sub_ps(b, c), d);
                }
                for (int row = 0; row < 2 && 2 * th + row < OH; ++row) {  // A^T (M A): rows
                    __m512 e, od;  // outputs (2 th + row, 2 tw) and (2 th + row, 2 tw + 1)
                    if (row == 0) {
                        e = _mm512_add_ps(_mm512_add_ps(p[0][0], p[1][0]), _mm512_add_ps(p[2][0], bo));
                        od = _mm512_add_ps(_mm512_add_ps(p[0][1], p[1][1]), _mm512_add_ps(p[2][1], bo));
                    } else {
                        e = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(p[1][0], p[2][0]), p[3][0]), bo);
                        od = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(p[1][1], p[2][1]), p[3][1]), bo);
                    }
                    _mm512_mask_storeu_ps(yo + (size_t)(2 * th + row) * OW, omask, _mm512_permutex2var_ps(e, ilv, od));
                }
            }
        }
}

DLBHC_AVX512 void winograd_output_backward_avx512(const WinogradGeom& g, const float* dy, int nb, float* dM,
                                                  size_t ld, size_t xs) {
    const int OH = g.out_h(), OW = g.out_w(), TH = g.tiles_h(), TW = g.tiles_w(), T = g.tiles();
    const __mmask16 tmask = low_lanes(TW), omask = low_lanes(OW);
    const __m512i ev = stride2(0), odd = stride2(1);
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < nb; ++i)
        for (int o = 0; o < g.oc; ++o) {
            const float* dyo = dy + ((size_t)i * g.oc + o) * OH * OW;
            float* m = dM + (size_t)o * ld + (size_t)i * T;
            for (int th = 0; th < TH; ++th) {
                // dy rows 2 th and 2 th + 1 (zero past the edge), split into even and odd columns.
                const __m512 y0 = _mm512_maskz_loadu_ps(omask, dyo + (size_t)(2 * th) * OW);
                const __m512 y1 = 2 * th + 1 < OH ? _mm512_maskz_loadu_ps(omask, dyo + (size_t)(2 * th + 1) * OW) : zero;
                const __m512 e00 = perm(ev, y0), e01 = perm(odd, y0);
                const __m512 e10 = perm(ev, y1), e11 = perm(odd, y1);
                const __m512 r[4][2] = {{e00, e01},
                                        {_mm512_add_ps(e00, e10), _mm512_add_ps(e01, e11)},
                                        {_mm512_sub_ps(e00, e10), _mm512_sub_ps(e01, e11)},
                                        {_mm512_sub_ps(zero, e10), _mm512_sub_ps(zero, e11)}};  // A dy: rows
                float* mt = m + (size_t)th * TW;
                for (int k = 0; k < 4; ++k) {  // (A dy) A^T: columns
                    _mm512_mask_storeu_ps(mt + (4 * k + 0) * xs, tmask, r[k][0]);
                    _mm512_mask_storeu_ps(mt + (4 * k + 1) * xs, tmask, _mm512_add_ps(r[k][0], r[k][1]));
                    _mm512_mask_storeu_ps(mt + (4 * k + 2) * xs, tmask, _mm512_sub_ps(r[k][0], r[k][1]));
                    _mm512_mask_storeu_ps(mt + (4 * k + 3) * xs, tmask, _mm512_sub_ps(zero, r[k][1]));
                }
            }
        }
}

DLBHC_AVX512 void winograd_input_backward_avx512(const WinogradGeom& g, const float* dV, size_t ld, size_t xs, int nb,
                                                 float* dx) {
    const int TH = g.tiles_h(), TW = g.tiles_w(), T = g.tiles();
    const size_t hw = (size_t)g.h * g.w;
    const __mmask16 tmask = low_lanes(TW), wmask = low_lanes(g.w);
    const __m512i ilv = interleave(), up2 = shift(-2), from_plane = shift(g.pw);
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < nb; ++i)
        for (int c = 0; c < g.c; ++c) {
            const float* v = dV + (size_t)c * ld + (size_t)i * T;
            float* xc = dx + ((size_t)i * g.c + c) * hw;
            // Plane rows 2 th .. 2 th + 3 as they accumulate; rows 2 th and 2 th + 1 are complete once
            // tile row th is added (later tile rows start at 2 th + 2), and go to dx.
            __m512 acc[4] = {zero, zero, zero, zero};
            for (int th = 0; th < TH; ++th) {
                const float* vt = v + (size_t)th * TW;
                __m512 d[16];
                for (int k = 0; k < 16; ++k) d[k] = _mm512_maskz_loadu_ps(tmask, vt + k * xs);  // lanes >= TW: 0
                for (int k = 0; k < 4; ++k) {
                    __m512 s[4];  // row k of B dV
                    for (int l = 0; l < 4; ++l) {
                        const __m512 a = d[l], b = d[4 + l], cc = d[8 + l], e = d[12 + l];
                        s[l] = k == 0   ? a
                               : k == 1 ? _mm512_add_ps(_mm512_sub_ps(b, cc), e)
                               : k == 2 ? _mm512_sub_ps(_mm512_add_ps(b, cc), a)
                                        : _mm512_sub_ps(zero, e);
                    }
                    // (B dV) B^T row k: columns 2 tw + 0 .. 2 tw + 3 of each tile
                    const __m512 q0 = s[0], q1 = _mm512_add_ps(_mm512_sub_ps(s[1], s[2]), s[3]),
                                 q2 = _mm512_sub_ps(_mm512_add_ps(s[1], s[2]), s[0]), q3 = _mm512_sub_ps(zero, s[3]);
                    const __m512 lo = _mm512_permutex2var_ps(q0, ilv, q1);  // plane columns 2 tw, 2 tw + 1
                    const __m512 hi = _mm512_maskz_permutexvar_ps((__mmask16)0xFFFC, up2,
                                                                  _mm512_permutex2var_ps(q2, ilv, q3));  // 2 tw + 2, + 3
                    acc[k] = _mm512_add_ps(acc[k], _mm512_add_ps(lo, hi));
                }
                add_plane_row(g, 2 * th, acc[0], from_plane, wmask, xc);
                add_plane_row(g, 2 * th + 1, acc[1], from_plane, wmask, xc);
                acc[0] = acc[2], acc[1] = acc[3], acc[2] = zero, acc[3] = zero;
            }
            add_plane_row(g, 2 * TH, acc[0], from_plane, wmask, xc);
            add_plane_row(g, 2 * TH + 1, acc[1], from_plane, wmask, xc);
        }
}

#undef DLBHC_AVX512

}  // namespace dlbhc
#endif
