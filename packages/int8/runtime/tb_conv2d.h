/*
 * tb_conv2d.h - int8 2-D convolution (TFLite reference ConvPerChannel semantics), C99.
 *
 * in [in_h, in_w, in_c] (NHWC without N), out [out_h, out_w, out_c], weights OHWI
 * [out_c, kernel_h, kernel_w, in_c]. For every output (oy, ox, c):
 *   sum = sum over in-bounds taps (iy = oy*stride_h - pad_top + ky, ix = ox*stride_w - pad_left + kx)
 *         and ci of weights[c, ky, kx, ci] * (in[iy, ix, ci] - in_zp)
 *   acc = sum + bias[c]  (modulo 2^32)
 *   out = clamp(multiply_by_quantized_multiplier(acc, multipliers[c], shifts[c]) + out_zp,
 *               act_min, act_max)
 * The exporter guarantees kernel_h * kernel_w * in_c * 128 * 255 <= INT32_MAX (sum fits int32).
 * in and out must not overlap.
 */
#ifndef TB_CONV2D_H
#define TB_CONV2D_H

#include <stdint.h>

typedef struct {
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t kernel_h, kernel_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left;
  int32_t in_zp, out_zp;
  int32_t act_min, act_max;
  const int8_t *weights;      /* [out_c * kernel_h * kernel_w * in_c], OHWI */
  const int32_t *bias;        /* [out_c] */
  const int32_t *multipliers; /* [out_c], Q31 */
  const int32_t *shifts;      /* [out_c], in [-31, 30] */
} tb_conv2d_params;

/*
 * Taps per output (kernel_h * kernel_w * in_c) up to which tb_conv2d_s8 uses the SIMD kernel on
 * DSP / MVE targets; it needs 4 * TB_CONV2D_FAST_MAX_K bytes of stack (DSP: two int16 im2col
 * columns; MVE: four int8 columns of TB_CONV2D_FAST_MAX_K rounded up to 16).
 */
#ifndef TB_CONV2D_FAST_MAX_K
#define TB_CONV2D_FAST_MAX_K 512
#endif

/*
 * tb_conv2d_s8: when kernel_h * kernel_w * in_c <= TB_CONV2D_FAST_MAX_K, on targets with integer
 * MVE (TB_MVE of tb_mve.h: Cortex-M55/M85) an MVE kernel (im2col of four output pixels into int8
 * on the stack, VMLADAVA over 16 taps x 4 pixels per channel, vector requantisation of the 4
 * pixels), else on targets with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33) a SIMD
 * kernel (im2col of two output pixels into int16 on the stack, SXTB16 + SMLAD over 2 channels x 2
 * pixels, an inline-assembly inner loop when the taps per output are even and >= 8 and the code
 * is optimised); otherwise (and on -Os builds, see TB_FAST_KERNELS in tb_dsp.h)
 * tb_conv2d_s8_portable. Both are bit-exact with each other and with the TypeScript kernel
 * (multipliers must not be INT32_MIN; validate keeps them >= 0).
 */
void tb_conv2d_s8(const int8_t *in, int8_t *out, const tb_conv2d_params *p);
/* The plain C99 kernel (the reference the SIMD one is tested against). */
void tb_conv2d_s8_portable(const int8_t *in, int8_t *out, const tb_conv2d_params *p);

#endif /* TB_CONV2D_H */
