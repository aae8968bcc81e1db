/*
 * tb_depthwise_conv2d.h - int8 depthwise 2-D convolution, depth multiplier 1 (TFLite reference
 * DepthwiseConvPerChannel semantics), C99.
 *
 * in [in_h, in_w, channels], out [out_h, out_w, channels], weights [kernel_h, kernel_w, channels].
 * For every output (oy, ox, c):
 *   sum = sum over in-bounds taps (iy = oy*stride_h - pad_top + ky, ix = ox*stride_w - pad_left + kx)
 *         of weights[ky, kx, c] * (in[iy, ix, c] - in_zp)
 *   acc = sum + bias[c]  (modulo 2^32)
 *   out = clamp(multiply_by_quantized_multiplier(acc, multipliers[c], shifts[c]) + out_zp,
 *               act_min, act_max)
 * The exporter guarantees kernel_h * kernel_w * 128 * 255 <= INT32_MAX. in and out must not overlap.
 */
#ifndef TB_DEPTHWISE_CONV2D_H
#define TB_DEPTHWISE_CONV2D_H

#include <stdint.h>

typedef struct {
  int32_t in_h, in_w, channels;
  int32_t out_h, out_w;
  int32_t kernel_h, kernel_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left;
  int32_t in_zp, out_zp;
  int32_t act_min, act_max;
  const int8_t *weights;      /* [kernel_h * kernel_w * channels] */
  const int32_t *bias;        /* [channels] */
  const int32_t *multipliers; /* [channels], Q31 */
  const int32_t *shifts;      /* [channels], in [-31, 30] */
} tb_depthwise_conv2d_params;

/*
 * tb_depthwise_conv2d_s8: on targets with integer MVE (TB_MVE of tb_mve.h: Cortex-M55/M85) an MVE
 * kernel (eight channels per step, int16 lanes, VMULLB / VMULLT into int32, vector
 * requantisation), else on targets with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33) a
 * SIMD kernel (four channels per word, SXTB16 + SMLABB/SMLATT; for 3x3 kernels, when
 * optimised, runs of windows inside the input in inline assembly), elsewhere
 * tb_depthwise_conv2d_s8_portable. Both are bit-exact with each other and with the TypeScript
 * kernel (multipliers must not be INT32_MIN; validate keeps them >= 0). No scratch memory.
 */
void tb_depthwise_conv2d_s8(const int8_t *in, int8_t *out, const tb_depthwise_conv2d_params *p);
/* The plain C99 kernel (the reference the SIMD one is tested against). */
void tb_depthwise_conv2d_s8_portable(const int8_t *in, int8_t *out, const tb_depthwise_conv2d_params *p);

#endif /* TB_DEPTHWISE_CONV2D_H */
