#include "CKernels.h"

#include <emmintrin.h>
#include <math.h>

// SSE2, which every x86-64 CPU has: four floats (or two doubles) at a time. The optimiser's pass
// is bound by memory, not arithmetic; what matters is that nothing in it is scalar or a call.

double oni_sum_of_squares(const float *g, size_t count) {
    __m128d lanes[4] = {_mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd()};
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m128 low = _mm_loadu_ps(g + i), high = _mm_loadu_ps(g + i + 4);
        const __m128d x[4] = {
            _mm_cvtps_pd(low), _mm_cvtps_pd(_mm_movehl_ps(low, low)), _mm_cvtps_pd(high), _mm_cvtps_pd(_mm_movehl_ps(high, high))};
        for (int l = 0; l < 4; l++) lanes[l] = _mm_add_pd(lanes[l], _mm_mul_pd(x[l], x[l]));
    }
    double sum[8];
    for (int l = 0; l < 4; l++) _mm_storeu_pd(sum + 2 * l, lanes[l]);
    double total = 0;
    for (int l = 0; l < 8; l++) total += sum[l];
    for (; i < count; i++) total += (double)g[i] * (double)g[i];
    return total;
}

void oni_adam_update(
    float *w, float *g, float *m, float *v, size_t count, float scale, float beta1, float beta2, float stepSize,
    float inverseCorrection2, float epsilon) {
    const float keep1 = 1 - beta1, keep2 = 1 - beta2;
    const __m128 s = _mm_set1_ps(scale), b1 = _mm_set1_ps(beta1), b2 = _mm_set1_ps(beta2), k1 = _mm_set1_ps(keep1),
                 k2 = _mm_set1_ps(keep2), lr = _mm_set1_ps(stepSize), c2 = _mm_set1_ps(inverseCorrection2),
                 eps = _mm_set1_ps(epsilon), zero = _mm_setzero_ps();
    size_t j = 0;
    for (; j + 4 <= count; j += 4) {
        const __m128 gj = _mm_mul_ps(_mm_loadu_ps(g + j), s);
        const __m128 mj = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m + j)), _mm_mul_ps(k1, gj));
        const __m128 vj = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v + j)), _mm_mul_ps(_mm_mul_ps(k2, gj), gj));
        _mm_storeu_ps(m + j, mj);
        _mm_storeu_ps(v + j, vj);
        const __m128 denominator = _mm_add_ps(_mm_sqrt_ps(_mm_mul_ps(vj, c2)), eps);
        _mm_storeu_ps(w + j, _mm_sub_ps(_mm_loadu_ps(w + j), _mm_div_ps(_mm_mul_ps(lr, mj), denominator)));
        _mm_storeu_ps(g + j, zero);
    }
    // The same operations one at a time (the baseline x86-64 target has no FMA to fuse them into).
    for (; j < count; j++) {
        const float gj = g[j] * scale;
        const float mj = beta1 * m[j] + keep1 * gj;
        const float vj = beta2 * v[j] + keep2 * gj * gj;
        m[j] = mj;
        v[j] = vj;
        w[j] -= stepSize * mj / (sqrtf(vj * inverseCorrection2) + epsilon);
        g[j] = 0;
    }
}
