#ifndef ONI_CNARROWGEMM_H
#define ONI_CNARROWGEMM_H

/// 1 if this CPU runs the narrow products (AVX-512F), else 0.
int oni_narrow_available(void);

/// C = beta·C + A·op(B), row-major, for products with few rows (m small: a worker's 16
/// environments, a GRU step's examples), where a general sgemm spends as long repacking B on
/// every call as multiplying. A is [m × k] (leading dimension lda); B is [n × k] if transposeB
/// (a layer's weight, as stored) and [k × n] otherwise. B is read once per 16 rows of A, in
/// place; A is transposed into a per-thread scratch (kept between calls). beta is 0 or 1.
/// Sums run in a fixed order: the same inputs give the same outputs on every call.
/// Call only where oni_narrow_available() is 1.
void oni_narrow_gemm(
    int transposeB, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
