#ifndef ONI_CKERNELS_H
#define ONI_CKERNELS_H

#include <stddef.h>

// Our own vectorised kernels (AVX-512, or AVX2 with FMA), for the shapes OpenBLAS's API serves
// badly. Swift cannot emit these instructions for a generic x86-64 build, so they are C with
// per-function target attributes, the variant chosen by the CPU at run time. The optimiser's
// two (last in this file) use only SSE2, which every x86-64 CPU has, and run everywhere.

/// 2 if this CPU runs the kernels below with AVX-512F, 1 with AVX2 and FMA, else 0: callers then
/// keep im2col and sgemm.
int oni_kernels_available(void);

/// Direct 2-D convolution with "same" padding (the output as large as the input: 2·ph = kh − 1,
/// 2·pw = kw − 1), stride 1, channel-first float32, for `batch` examples:
/// out[e][f][y][x] = bias[f] + Σ_c Σ_ky Σ_kx w[f][c][ky][kx] · in[e][c][y + ky − ph][x + kx − pw]
/// (zero outside the input), then ELU if `elu` is not 0; `bias` may be NULL (zero). No im2col
/// copy and no packing: each tap reads the flattened plane at a fixed offset, 16 positions and
/// up to 16 filters (AVX2: 6) at a time in registers, each tap's mask zeroing the lanes that would cross a
/// row's edge. `workspace` holds oni_conv_workspace_bytes(…) bytes (aligned for float), kept by
/// the caller between calls so that a pass allocates nothing.
void oni_conv_forward(
    const float *in, const float *w, const float *bias, float *out, int batch, int channels, int height, int width,
    int filters, int kh, int kw, int ph, int pw, int elu, void *workspace);

/// The scratch oni_conv_forward needs for this geometry: the weights re-laid out, and each
/// tap's offset and masks.
size_t oni_conv_workspace_bytes(int channels, int height, int width, int filters, int kh, int kw);

/// C = beta·C + A·op(B), row-major, for products with few rows (m small: a worker's 16
/// environments, a GRU step's examples), where a general sgemm spends as long repacking B on
/// every call as multiplying. A is [m × k] (leading dimension lda); B is [n × k] if transposeB
/// (a layer's weight, as stored) and [k × n] otherwise. B is read once per 16 rows of A, in
/// place; A is transposed into a per-thread scratch (kept between calls, freed when the thread
/// ends). beta is 0 or 1, k at least 1. Sums run in a fixed order: the same inputs give the same
/// outputs on every call.
void oni_narrow_gemm(
    int transposeB, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/// Σ g² of `count` floats in float64, in eight lanes (element i in lane i mod 8), then the lanes
/// in order, then the remainder: the same inputs give the same sum on every call and thread.
double oni_sum_of_squares(const float *g, size_t count);

/// Adam's update of `count` weights (SSE2, four at a time, then one by one; every operation
/// separate, none fused, so an element's result does not depend on where it falls):
/// g ← g·scale, m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g·g, w ← w − stepSize·m / (√(v·inverseCorrection2) + ε),
/// then g ← 0. The arrays must not overlap.
void oni_adam_update(
    float *w, float *g, float *m, float *v, size_t count, float scale, float beta1, float beta2, float stepSize,
    float inverseCorrection2, float epsilon);

#endif
