#include "CKernels.h"
#include "Kernels.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/// This thread's scratch for Aᵀ, grown to the largest size asked, kept, freed when the thread ends.
static __thread float *scratch = NULL;
static __thread size_t scratchFloats = 0;
static pthread_key_t scratchKey;
static pthread_once_t scratchOnce = PTHREAD_ONCE_INIT;

static void makeScratchKey(void) { pthread_key_create(&scratchKey, free); }

static float *transposeScratch(size_t floats) {
    if (floats > scratchFloats) {
        pthread_once(&scratchOnce, makeScratchKey);
        free(scratch);
        scratch = aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64);
        if (!scratch) abort();
        scratchFloats = floats;
        pthread_setspecific(scratchKey, scratch);
    }
    return scratch;
}

/// Rows r0..<r0+rows of A as [k][16] (lanes past `rows` zero).
static void transposeRows(const float *a, int lda, int r0, int rows, int k, float *at) {
    for (int p = 0; p < k; p++) {
        float *line = at + (intptr_t)p * 16;
        for (int r = 0; r < rows; r++) line[r] = a[(intptr_t)(r0 + r) * lda + p];
        for (int r = rows; r < 16; r++) line[r] = 0.0f;
    }
}

/// C's rows 0..<rows, columns 0..<cols (+)= a block of results held column by column, 16 rows each.
static void scatter(const float *block, int rows, int cols, float beta, float *c, int ldc) {
    for (int r = 0; r < rows; r++) {
        float *line = c + (intptr_t)r * ldc;
        if (beta == 0.0f) {
            for (int j = 0; j < cols; j++) line[j] = block[j * 16 + r];
        } else {
            for (int j = 0; j < cols; j++) line[j] += block[j * 16 + r];
        }
    }
}

/// Bᵀ form, 8 columns of C at a time: acc[j] (16 rows in lanes) += B[n0 + j][p] · Aᵀ[p].
AVX512 static void nt16(const float *at, int rows, int n, int k, const float *b, int ldb, float beta, float *c, int ldc) {
    float block[8][16] __attribute__((aligned(64)));
    for (int n0 = 0; n0 < n; n0 += 8) {
        const int cols = n - n0 < 8 ? n - n0 : 8;
        __m512 acc[8];
        for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_ps();
        const float *row[8];
        for (int j = 0; j < 8; j++) row[j] = b + (intptr_t)(n0 + (j < cols ? j : 0)) * ldb;
        for (int p = 0; p < k; p++) {
            const __m512 v = _mm512_load_ps(at + (intptr_t)p * 16);
#pragma clang loop unroll(full)
            for (int j = 0; j < 8; j++) acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(row[j][p]), v, acc[j]);
        }
        for (int j = 0; j < 8; j++) _mm512_store_ps(block[j], acc[j]);
        scatter(&block[0][0], rows, cols, beta, c + n0, ldc);
    }
}

/// B form, 16 columns of C at a time: acc[r] (16 columns in lanes) += Aᵀ[p][r] · B[p][n0…].
AVX512 static void nn16(const float *at, int rows, int n, int k, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int n0 = 0; n0 < n; n0 += 16) {
        const int cols = n - n0 < 16 ? n - n0 : 16;
        const __mmask16 mask = (__mmask16)(cols >= 16 ? 0xFFFFu : ((1u << cols) - 1u));
        __m512 acc[16];
        for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
        for (int p = 0; p < k; p++) {
            const __m512 w = _mm512_maskz_loadu_ps(mask, b + (intptr_t)p * ldb + n0);
            const float *x = at + (intptr_t)p * 16;
#pragma clang loop unroll(full)
            for (int r = 0; r < 16; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r]), w, acc[r]);
        }
        for (int r = 0; r < rows; r++) {
            float *line = c + (intptr_t)r * ldc + n0;
            const __m512 value = beta == 0.0f ? acc[r] : _mm512_add_ps(acc[r], _mm512_maskz_loadu_ps(mask, line));
            _mm512_mask_storeu_ps(line, mask, value);
        }
    }
}

/// nt16 with AVX2: the 16 rows in two registers, 6 columns of C at a time (12 accumulators).
AVX2 static void nt8(const float *at, int rows, int n, int k, const float *b, int ldb, float beta, float *c, int ldc) {
    float block[6][16] __attribute__((aligned(32)));
    for (int n0 = 0; n0 < n; n0 += 6) {
        const int cols = n - n0 < 6 ? n - n0 : 6;
        __m256 lo[6], hi[6];
        for (int j = 0; j < 6; j++) lo[j] = hi[j] = _mm256_setzero_ps();
        const float *row[6];
        for (int j = 0; j < 6; j++) row[j] = b + (intptr_t)(n0 + (j < cols ? j : 0)) * ldb;
        for (int p = 0; p < k; p++) {
            const __m256 v0 = _mm256_load_ps(at + (intptr_t)p * 16), v1 = _mm256_load_ps(at + (intptr_t)p * 16 + 8);
#pragma clang loop unroll(full)
            for (int j = 0; j < 6; j++) {
                const __m256 w = _mm256_set1_ps(row[j][p]);
                lo[j] = _mm256_fmadd_ps(w, v0, lo[j]);
                hi[j] = _mm256_fmadd_ps(w, v1, hi[j]);
            }
        }
        for (int j = 0; j < 6; j++) {
            _mm256_store_ps(block[j], lo[j]);
            _mm256_store_ps(block[j] + 8, hi[j]);
        }
        scatter(&block[0][0], rows, cols, beta, c + n0, ldc);
    }
}

/// nn16 with AVX2: 16 columns of C in two registers, NR rows at a time (2·NR accumulators) from
/// row r0 of the 16 in the scratch.
#define NN8(NR)                                                                                                            \
    AVX2 static void nn8x##NR(                                                                                             \
        const float *at, int r0, int rows, int n0, int cols, int k, const float *b, int ldb, float beta, float *c, int ldc) { \
        const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);                                                   \
        const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), index);                                             \
        const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8), index);                                         \
        __m256 lo[NR], hi[NR];                                                                                             \
        for (int r = 0; r < NR; r++) lo[r] = hi[r] = _mm256_setzero_ps();                                                  \
        for (int p = 0; p < k; p++) {                                                                                      \
            const float *line = b + (intptr_t)p * ldb + n0;                                                                \
            const __m256 w0 = cols >= 16 ? _mm256_loadu_ps(line) : _mm256_maskload_ps(line, m0);                          \
            const __m256 w1 = cols >= 16 ? _mm256_loadu_ps(line + 8)                                                       \
                : cols > 8 ? _mm256_maskload_ps(line + 8, m1) : _mm256_setzero_ps();                                       \
            const float *x = at + (intptr_t)p * 16 + r0;                                                                   \
            _Pragma("clang loop unroll(full)") for (int r = 0; r < NR; r++) {                                              \
                const __m256 v = _mm256_set1_ps(x[r]);                                                                     \
                lo[r] = _mm256_fmadd_ps(v, w0, lo[r]);                                                                     \
                hi[r] = _mm256_fmadd_ps(v, w1, hi[r]);                                                                     \
            }                                                                                                              \
        }                                                                                                                  \
        for (int r = 0; r < NR && r0 + r < rows; r++) {                                                                   \
            float *line = c + (intptr_t)(r0 + r) * ldc + n0;                                                               \
            __m256 v0 = lo[r], v1 = hi[r];                                                                                 \
            if (beta != 0.0f) {                                                                                            \
                v0 = _mm256_add_ps(v0, _mm256_maskload_ps(line, m0));                                                      \
                v1 = _mm256_add_ps(v1, _mm256_maskload_ps(line + 8, m1));                                                  \
            }                                                                                                              \
            if (cols >= 16) { /* masked stores are slow on some CPUs: only for a last, partial block */                   \
                _mm256_storeu_ps(line, v0);                                                                                \
                _mm256_storeu_ps(line + 8, v1);                                                                            \
            } else {                                                                                                       \
                _mm256_maskstore_ps(line, m0, v0);                                                                         \
                _mm256_maskstore_ps(line + 8, m1, v1);                                                                     \
            }                                                                                                              \
        }                                                                                                                  \
    }

NN8(6)
NN8(4)

/// Rows 0–5, 6–11 and 12–15 of the scratch's 16, as far as `rows` reaches.
AVX2 static void nn8(const float *at, int rows, int n, int k, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int n0 = 0; n0 < n; n0 += 16) {
        const int cols = n - n0 < 16 ? n - n0 : 16;
        nn8x6(at, 0, rows, n0, cols, k, b, ldb, beta, c, ldc);
        if (rows > 6) nn8x6(at, 6, rows, n0, cols, k, b, ldb, beta, c, ldc);
        if (rows > 12) nn8x4(at, 12, rows, n0, cols, k, b, ldb, beta, c, ldc);
    }
}

void oni_narrow_gemm(
    int transposeB, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    float *at = transposeScratch((size_t)k * 16);
    for (int r0 = 0; r0 < m; r0 += 16) {
        const int rows = m - r0 < 16 ? m - r0 : 16;
        transposeRows(a, lda, r0, rows, k, at);
        float *block = c + (intptr_t)r0 * ldc;
        if (oni_kernels_available() == 2) {
            if (transposeB) nt16(at, rows, n, k, b, ldb, beta, block, ldc); else nn16(at, rows, n, k, b, ldb, beta, block, ldc);
        } else {
            if (transposeB) nt8(at, rows, n, k, b, ldb, beta, block, ldc); else nn8(at, rows, n, k, b, ldb, beta, block, ldc);
        }
    }
}
