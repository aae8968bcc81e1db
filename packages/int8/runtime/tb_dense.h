/*
 * tb_dense.h - int8 fully connected layer with per-channel weights (TFLite reference
 * FullyConnectedPerChannel semantics), C99.
 *
 * in [in_features] (any tensor read flat), out [out_features], weights [out_features, in_features].
 * For every unit n:
 *   sum = sum over d of weights[n, d] * (in[d] - in_zp)
 *   acc = sum + bias[n]  (modulo 2^32)
 *   out = clamp(multiply_by_quantized_multiplier(acc, multipliers[n], shifts[n]) + out_zp,
 *               act_min, act_max)
 * The exporter guarantees in_features * 128 * 255 <= INT32_MAX. in and out must not overlap.
 */
#ifndef TB_DENSE_H
#define TB_DENSE_H

#include <stdint.h>

typedef struct {
  int32_t in_features, out_features;
  int32_t in_zp, out_zp;
  int32_t act_min, act_max;
  const int8_t *weights;      /* [out_features * in_features] */
  const int32_t *bias;        /* [out_features] */
  const int32_t *multipliers; /* [out_features], Q31 */
  const int32_t *shifts;      /* [out_features], in [-31, 30] */
} tb_dense_params;

/*
 * tb_dense_s8: on targets with integer MVE (TB_MVE of tb_mve.h: Cortex-M55/M85) an MVE kernel
 * (VMLADAVA / VADDVA over 16 inputs, three units at a time), else on targets with the DSP
 * extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33) a SIMD kernel (SXTB16/SXTAB16 + SMLAD, three
 * units at a time), elsewhere tb_dense_s8_portable. Both are
 * bit-exact with each other and with the TypeScript kernel (multipliers must not be INT32_MIN;
 * validate keeps them >= 0). No scratch memory.
 */
void tb_dense_s8(const int8_t *in, int8_t *out, const tb_dense_params *p);
/* The plain C99 kernel (the reference the SIMD one is tested against). */
void tb_dense_s8_portable(const int8_t *in, int8_t *out, const tb_dense_params *p);

#endif /* TB_DENSE_H */
