#ifndef ONI_CCONVOLUTION_H
#define ONI_CCONVOLUTION_H

#include <stddef.h>

/// 1 if this CPU runs the direct convolution (AVX-512F), else 0: callers then unfold and
/// multiply (im2col + sgemm) instead.
int oni_conv_direct_available(void);

/// Direct 2-D convolution, stride 1, zero padding, channel-first float32, for `batch`
/// examples: out[e][f][y][x] = bias[f] + Σ_c Σ_ky Σ_kx w[f][c][ky][kx] ·
/// in[e][c][y + ky − ph][x + kx − pw] (zero outside the input), then ELU if `elu` is not 0.
/// out is [batch][filters][oh][ow] with oh = height + 2·ph − kh + 1, ow = width + 2·pw − kw + 1;
/// `bias` may be NULL (zero). No im2col copy and no packing: the weights stay in L1, each
/// output row is built in registers, 16 positions × up to 16 filters at a time.
/// `workspace` holds oni_conv_workspace_bytes(…) bytes (aligned for float), kept by the caller
/// between calls so that a pass allocates nothing. Call only where oni_conv_direct_available() is 1.
void oni_conv_forward(
    const float *in, const float *w, const float *bias, float *out, int batch, int channels, int height, int width,
    int filters, int kh, int kw, int ph, int pw, int elu, void *workspace);

/// The scratch oni_conv_forward needs for this geometry: the weights re-laid out, and each
/// tap's offset and masks.
size_t oni_conv_workspace_bytes(int channels, int height, int width, int filters, int kh, int kw);

#endif
