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

/// exp16 in 8 lanes (AVX2).
AVX2 static inline __m256 exp8(__m256 x) {
    const __m256 t = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
    const __m256 shifted = _mm256_fmadd_ps(t, _mm256_set1_ps(1.442695041f), _mm256_set1_ps(12582912.0f));
    const __m256 n = _mm256_sub_ps(shifted, _mm256_set1_ps(12582912.0f));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), t);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x4B400000)), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

AVX2 static inline __m256 elu8(__m256 x) {
    const __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
    return _mm256_blendv_ps(_mm256_sub_ps(exp8(x), _mm256_set1_ps(1.0f)), x, positive);
}

/// Lanes lo..<hi set.
static inline __mmask16 lanes(int lo, int hi) {
    const uint32_t upper = hi >= 16 ? 0xFFFFu : ((1u << hi) - 1u);
    const uint32_t lower = lo <= 0 ? 0u : ((1u << lo) - 1u);
    return (__mmask16)(upper & ~lower);
}

/// How many of the `left` remaining filters the next block takes, one kernel each: with AVX-512
/// 16, 8, 4 or 1 (a block's accumulators fill up to 16 of 32 registers); with AVX2 6, 4, 2 or 1
/// (two registers of 8 positions per filter: up to 12 of 16).
static inline int blockOf(int left, int wide) {
    if (wide) return left >= 16 ? 16 : left >= 8 ? 8 : left >= 4 ? 4 : 1;
    return left >= 6 ? 6 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
}

/// Every tap of a "same"-padded convolution reads the whole plane, flattened, shifted by a fixed
/// offset: 16 consecutive positions of the plane at a time, whatever its
/// rows' width (a 9-wide crop fills 16 lanes, not 9), with each tap's mask for the block
/// zeroing the lanes it would read outside the plane or across a row's edge.
#define PLANE(NF)                                                                                                          \
    AVX512 static void plane##NF(                                                                                          \
        const float *src, const float *wt, const float *bias, float *dst, int channels, int positions, int taps,           \
        const int *shifts, const uint16_t *masks, int p0, int f0, int elu) {                                               \
        __m512 acc[NF];                                                                                                    \
        for (int f = 0; f < NF; f++) acc[f] = _mm512_set1_ps(bias ? bias[f0 + f] : 0.0f);                                  \
        for (int c = 0; c < channels; c++) {                                                                               \
            const float *plane = src + (intptr_t)c * positions + p0;                                                       \
            const float *wc = wt + (intptr_t)c * taps * NF;                                                                \
            for (int t = 0; t < taps; t++) {                                                                               \
                const __mmask16 m = (__mmask16)masks[t];                                                                   \
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

/// One filter's ELU and stores for a block, out of line: with the block's epilogue inlined (or
/// its accumulators passed by address), the compiler stored accumulators to memory on every
/// iteration of the FMA loop.
AVX2 __attribute__((noinline)) static void finishAVX2(__m256 lo, __m256 hi, float *out, int left, int elu) {
    if (elu) {
        lo = elu8(lo);
        hi = elu8(hi);
    }
    if (left >= 16) { // masked stores are slow on some CPUs: only at the plane's end
        _mm256_storeu_ps(out, lo);
        _mm256_storeu_ps(out + 8, hi);
    } else {
        const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_maskstore_ps(out, _mm256_cmpgt_epi32(_mm256_set1_epi32(left), index), lo);
        if (left > 8) _mm256_maskstore_ps(out + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32(left - 8), index), hi);
    }
}

/// PLANE with AVX2: the block's 16 positions in two registers of 8, each tap's mask as lanes
/// (`lanes`, 16 int32 per tap). Every load is masked: branching between plain and masked loads
/// made the compiler keep the accumulators in memory.
#define PLANE8(NF)                                                                                                         \
    AVX2 static void planeAVX2_##NF(                                                                                       \
        const float *src, const float *wt, const float *bias, float *dst, int channels, int positions, int taps,           \
        const int *shifts, const uint16_t *masks, const int32_t *lanes, int p0, int f0, int elu) {                         \
        __m256 lo[NF], hi[NF];                                                                                             \
        for (int f = 0; f < NF; f++) lo[f] = hi[f] = _mm256_set1_ps(bias ? bias[f0 + f] : 0.0f);                          \
        for (int c = 0; c < channels; c++) {                                                                               \
            const float *plane = src + (intptr_t)c * positions + p0;                                                       \
            const float *wc = wt + (intptr_t)c * taps * NF;                                                                \
            for (int t = 0; t < taps; t++) {                                                                               \
                const unsigned m = masks[t];                                                                               \
                if (!m) continue;                                                                                          \
                const float *at = (const float *)((intptr_t)plane + (intptr_t)shifts[t] * 4);                              \
                const int32_t *l = lanes + t * 16;                                                                         \
                const int full = m == 0xFFFFu;                                                                             \
                const __m256 a = full ? _mm256_loadu_ps(at) : _mm256_maskload_ps(at, _mm256_loadu_si256((const __m256i *)l)); \
                const __m256 b = full ? _mm256_loadu_ps(at + 8)                                                            \
                                      : _mm256_maskload_ps(at + 8, _mm256_loadu_si256((const __m256i *)(l + 8)));          \
                const float *wp = wc + t * NF;                                                                             \
                _Pragma("clang loop unroll(full)") for (int f = 0; f < NF; f++) {                                          \
                    const __m256 w = _mm256_set1_ps(wp[f]);                                                                \
                    lo[f] = _mm256_fmadd_ps(w, a, lo[f]);                                                                  \
                    hi[f] = _mm256_fmadd_ps(w, b, hi[f]);                                                                  \
                }                                                                                                          \
            }                                                                                                              \
        }                                                                                                                  \
        for (int f = 0; f < NF; f++) finishAVX2(lo[f], hi[f], dst + (intptr_t)(f0 + f) * positions + p0, positions - p0, elu); \
    }

PLANE8(6)
PLANE8(4)
PLANE8(2)
PLANE8(1)

/// Each tap's offset in the flattened plane, and its mask for each block of
/// 16 positions ([block][tap]: the lanes whose read stays inside the plane and its row), as bits
/// and, where `lanes` is not NULL (AVX2), as 16 int32 lanes of all ones or zero.
static void plan(int height, int width, int kh, int kw, int ph, int pw, int *shifts, uint16_t *masks, int32_t *lanes) {
    const int positions = height * width, taps = kh * kw, blocks = (positions + 15) / 16;
    for (int ky = 0; ky < kh; ky++) {
        for (int kx = 0; kx < kw; kx++) {
            const int t = ky * kw + kx, dy = ky - ph, dx = kx - pw;
            shifts[t] = dy * width + dx;
            for (int b = 0; b < blocks; b++) {
                unsigned m = 0;
                for (int i = 0; i < 16; i++) {
                    const int p = b * 16 + i, y = p / width + dy, x = p % width + dx;
                    const int inside = p < positions && y >= 0 && y < height && x >= 0 && x < width;
                    if (inside) m |= 1u << i;
                    if (lanes) lanes[(b * taps + t) * 16 + i] = inside ? -1 : 0;
                }
                masks[b * taps + t] = (uint16_t)m;
            }
        }
    }
}

size_t oni_conv_workspace_bytes(int channels, int height, int width, int filters, int kh, int kw) {
    const size_t taps = (size_t)kh * kw, blocks = ((size_t)height * width + 15) / 16;
    return sizeof(float) * (size_t)channels * taps * (size_t)filters + sizeof(int32_t) * taps * blocks * 16 + sizeof(int) * taps
        + sizeof(uint16_t) * taps * blocks;
}

void oni_conv_forward(
    const float *in, const float *w, const float *bias, float *out, int batch, int channels, int height, int width,
    int filters, int kh, int kw, int ph, int pw, int elu, void *workspace) {
    const int wide = oni_kernels_available() == 2;
    const int positions = height * width, taps = kh * kw, blocks = (positions + 15) / 16;
    const int patch = channels * taps;
    // The weights of each block of filters tap by tap, the block's filters side by side
    // ([tap][nf]), so the broadcasts read one pointer at constant offsets; then the taps' plan.
    float *wt = workspace;
    int32_t *lanes = (int32_t *)(wt + (size_t)patch * filters);
    int *shifts = (int *)(lanes + (size_t)taps * blocks * 16);
    uint16_t *masks = (uint16_t *)(shifts + taps);
    for (int f0 = 0, nf; f0 < filters; f0 += nf) {
        nf = blockOf(filters - f0, wide);
        for (int t = 0; t < patch; t++)
            for (int f = 0; f < nf; f++) wt[(intptr_t)f0 * patch + t * nf + f] = w[(intptr_t)(f0 + f) * patch + t];
    }
    plan(height, width, kh, kw, ph, pw, shifts, masks, wide ? NULL : lanes);
    for (int e = 0; e < batch; e++) {
        const float *src = in + (intptr_t)e * channels * positions;
        float *dst = out + (intptr_t)e * filters * positions;
        for (int f0 = 0, nf; f0 < filters; f0 += nf) {
            nf = blockOf(filters - f0, wide);
            const float *block = wt + (intptr_t)f0 * patch;
            for (int b = 0; b < blocks; b++) {
                const uint16_t *m = masks + b * taps;
                const int32_t *l = lanes + (intptr_t)b * taps * 16;
                if (wide) {
                    switch (nf) {
                    case 16: plane16(src, block, bias, dst, channels, positions, taps, shifts, m, b * 16, f0, elu); break;
                    case 8: plane8(src, block, bias, dst, channels, positions, taps, shifts, m, b * 16, f0, elu); break;
                    case 4: plane4(src, block, bias, dst, channels, positions, taps, shifts, m, b * 16, f0, elu); break;
                    default: plane1(src, block, bias, dst, channels, positions, taps, shifts, m, b * 16, f0, elu); break;
                    }
                } else {
                    switch (nf) {
                    case 6: planeAVX2_6(src, block, bias, dst, channels, positions, taps, shifts, m, l, b * 16, f0, elu); break;
                    case 4: planeAVX2_4(src, block, bias, dst, channels, positions, taps, shifts, m, l, b * 16, f0, elu); break;
                    case 2: planeAVX2_2(src, block, bias, dst, channels, positions, taps, shifts, m, l, b * 16, f0, elu); break;
                    default: planeAVX2_1(src, block, bias, dst, channels, positions, taps, shifts, m, l, b * 16, f0, elu); break;
                    }
                }
            }
        }
    }
}
