#include "CKernels.h"
#include "Kernels.h"

#include <immintrin.h>
#include <stdint.h>

/// eˣ as OniNeural's Float.exponential (the same constants), 16 lanes.
AVX512 static inline __m512 exp16(__m512 x) {
    const __m512 t = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-87.0f));
    const __m512 shifted = _mm512_fmadd_ps(t, _mm512_set1_ps(1.442695041f), _mm512_set1_ps(12582912.0f));
    const __m512 n = _mm512_sub_ps(shifted, _mm512_set1_ps(12582912.0f));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), t);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000)), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/// x for x > 0, eˣ − 1 otherwise.
AVX512 static inline __m512 elu16(__m512 x) {
    const __mmask16 positive = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(positive, _mm512_sub_ps(exp16(x), _mm512_set1_ps(1.0f)), x);
}

/// Lanes lo..<hi set.
static inline __mmask16 lanes(int lo, int hi) {
    const uint32_t upper = hi >= 16 ? 0xFFFFu : ((1u << hi) - 1u);
    const uint32_t lower = lo <= 0 ? 0u : ((1u << lo) - 1u);
    return (__mmask16)(upper & ~lower);
}

/// How many of the `left` remaining filters the next block takes: 16, 8, 4 or 1 (one kernel each).
static inline int blockOf(int left) { return left >= 16 ? 16 : left >= 8 ? 8 : left >= 4 ? 4 : 1; }

/// Every tap of a "same"-padded convolution reads the whole plane, flattened, shifted by a fixed
/// offset: 16 consecutive positions of the plane at a time, whatever its
/// rows' width (a 9-wide crop fills 16 lanes, not 9), with each tap's mask for the block
/// zeroing the lanes it would read outside the plane or across a row's edge.
#define PLANE(NF)                                                                                                          \
    AVX512 static void plane##NF(                                                                                          \
        const float *src, const float *wt, const float *bias, float *dst, int channels, int positions, int taps,           \
        const int *shifts, const __mmask16 *masks, int p0, int f0, int elu) {                                              \
        __m512 acc[NF];                                                                                                    \
        for (int f = 0; f < NF; f++) acc[f] = _mm512_set1_ps(bias ? bias[f0 + f] : 0.0f);                                  \
        for (int c = 0; c < channels; c++) {                                                                               \
            const float *plane = src + (intptr_t)c * positions + p0;                                                       \
            const float *wc = wt + (intptr_t)c * taps * NF;                                                                \
            for (int t = 0; t < taps; t++) {                                                                               \
                const __mmask16 m = masks[t];                                                                              \
                if (!m) continue;                                                                                          \
                const __m512 v = _mm512_maskz_loadu_ps(m, (const void *)((intptr_t)plane + (intptr_t)shifts[t] * 4));     \
                const float *wp = wc + t * NF;                                                                             \
                _Pragma("clang loop unroll(full)") for (int f = 0; f < NF; f++)                                            \
                    acc[f] = _mm512_fmadd_ps(_mm512_set1_ps(wp[f]), v, acc[f]);                                            \
            }                                                                                                              \
        }                                                                                                                  \
        const __mmask16 store = lanes(0, positions - p0);                                                                  \
        for (int f = 0; f < NF; f++) {                                                                                     \
            const __m512 value = elu ? elu16(acc[f]) : acc[f];                                                             \
            _mm512_mask_storeu_ps(dst + (intptr_t)(f0 + f) * positions + p0, store, value);                                \
        }                                                                                                                  \
    }

PLANE(16)
PLANE(8)
PLANE(4)
PLANE(1)

/// Each tap's offset in the flattened plane, and its mask for each block of
/// 16 positions ([block][tap]: the lanes whose read stays inside the plane and its row).
static void plan(int height, int width, int kh, int kw, int ph, int pw, int *shifts, __mmask16 *masks) {
    const int positions = height * width, taps = kh * kw, blocks = (positions + 15) / 16;
    for (int ky = 0; ky < kh; ky++) {
        for (int kx = 0; kx < kw; kx++) {
            const int t = ky * kw + kx, dy = ky - ph, dx = kx - pw;
            shifts[t] = dy * width + dx;
            for (int b = 0; b < blocks; b++) {
                unsigned m = 0;
                for (int i = 0; i < 16; i++) {
                    const int p = b * 16 + i, y = p / width + dy, x = p % width + dx;
                    if (p < positions && y >= 0 && y < height && x >= 0 && x < width) m |= 1u << i;
                }
                masks[b * taps + t] = (__mmask16)m;
            }
        }
    }
}

size_t oni_conv_workspace_bytes(int channels, int height, int width, int filters, int kh, int kw) {
    const size_t taps = (size_t)kh * kw, blocks = ((size_t)height * width + 15) / 16;
    return sizeof(float) * (size_t)channels * taps * (size_t)filters + sizeof(int) * taps + sizeof(__mmask16) * taps * blocks;
}

AVX512 void oni_conv_forward(
    const float *in, const float *w, const float *bias, float *out, int batch, int channels, int height, int width,
    int filters, int kh, int kw, int ph, int pw, int elu, void *workspace) {
    const int positions = height * width, taps = kh * kw, blocks = (positions + 15) / 16;
    const int patch = channels * taps;
    // The weights of each block of filters tap by tap, the block's filters side by side
    // ([tap][nf]), so the broadcasts read one pointer at constant offsets; then the taps' plan.
    float *wt = workspace;
    int *shifts = (int *)(wt + (size_t)patch * filters);
    __mmask16 *masks = (__mmask16 *)(shifts + taps);
    for (int f0 = 0, nf; f0 < filters; f0 += nf) {
        nf = blockOf(filters - f0);
        for (int t = 0; t < patch; t++)
            for (int f = 0; f < nf; f++) wt[(intptr_t)f0 * patch + t * nf + f] = w[(intptr_t)(f0 + f) * patch + t];
    }
    plan(height, width, kh, kw, ph, pw, shifts, masks);
    for (int e = 0; e < batch; e++) {
        const float *src = in + (intptr_t)e * channels * positions;
        float *dst = out + (intptr_t)e * filters * positions;
        for (int f0 = 0, nf; f0 < filters; f0 += nf) {
            nf = blockOf(filters - f0);
            const float *block = wt + (intptr_t)f0 * patch;
            for (int b = 0; b < blocks; b++) {
                const __mmask16 *m = masks + b * taps;
                switch (nf) {
                case 16: plane16(src, block, bias, dst, channels, positions, taps, shifts, m, b * 16, f0, elu); break;
                case 8: plane8(src, block, bias, dst, channels, positions, taps, shifts, m, b * 16, f0, elu); break;
                case 4: plane4(src, block, bias, dst, channels, positions, taps, shifts, m, b * 16, f0, elu); break;
                default: plane1(src, block, bias, dst, channels, positions, taps, shifts, m, b * 16, f0, elu); break;
                }
            }
        }
    }
}
