/* tb_delta_dense.c - see tb_delta_dense.h and src/ops/delta-dense.ts (the integer formulas). */
#include "tb_delta_dense.h"

#include "tb_fixed_point.h"

uint32_t tb_delta_dense_s8(const int8_t *in, int8_t *out, int32_t d, int32_t n, int32_t in_zp, int32_t relu,
                           const int16_t *step, const int8_t *weights, const int32_t *bias,
                           const int32_t *multiplier, const int32_t *shift, int32_t out_zp, int32_t act_min,
                           int32_t act_max, int16_t *khat, int32_t *acc) {
  uint32_t macs = 0;
  int32_t i;
  int32_t j;
  for (i = 0; i < d; i++) {
    int32_t u = (int32_t)in[i] - in_zp;
    const int32_t m = step[i];
    int32_t k;
    int32_t delta;
    if (relu && u < 0) {
      u = 0;
    }
    k = u >= 0 ? (2 * u + m) / (2 * m) : -((m - 2 * u) / (2 * m));
    delta = k - khat[i];
    if (delta != 0) {
      const int8_t *w = weights + i * n;
      for (j = 0; j < n; j++) {
        acc[j] += (int32_t)w[j] * delta;
      }
      khat[i] = (int16_t)k;
      macs += (uint32_t)n;
    }
  }
  for (j = 0; j < n; j++) {
    out[j] = tb_requantize_s8(acc[j] + bias[j], multiplier[j], (int)shift[j], out_zp, act_min, act_max);
  }
  return macs;
}

void tb_delta_dense_reset(int16_t *khat, int32_t d, int32_t *acc, int32_t n) {
  int32_t i;
  for (i = 0; i < d; i++) {
    khat[i] = 0;
  }
  for (i = 0; i < n; i++) {
    acc[i] = 0;
  }
}
