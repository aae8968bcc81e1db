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

void tb_dense_s8(const int8_t *in, int8_t *out, const tb_dense_params *p);

#endif /* TB_DENSE_H */
