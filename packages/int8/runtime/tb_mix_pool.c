/* tb_mix_pool.c - see tb_mix_pool.h and src/ops/mix-pool.ts (the integer formulas). */
#include "tb_mix_pool.h"

/* round half away from zero of v / 2^shift, plus out_zp, saturated to int8 */
static int8_t tb_mix_pool_round(int64_t v, int32_t shift, int32_t out_zp) {
  const uint64_t half = (uint64_t)1 << (shift - 1);
  int64_t y = v >= 0 ? (int64_t)(((uint64_t)v + half) >> shift) : -(int64_t)(((uint64_t)-v + half) >> shift);
  y += out_zp;
  return (int8_t)(y < -128 ? -128 : (y > 127 ? 127 : y));
}

void tb_mix_pool_s8(const int8_t *in, int8_t *out, int32_t h, int32_t w, int32_t c, int32_t grid, int32_t concat,
                    int32_t in_zp, int32_t out_zp, int64_t max_mult, int64_t mean_mult, int32_t shift) {
  const int32_t rh = h / grid;
  const int32_t rw = w / grid;
  const int32_t n = rh * rw;
  int32_t r;
  for (r = 0; r < grid * grid; r++) {
    const int8_t *region = in + ((r / grid) * rh * w + (r % grid) * rw) * c;
    int8_t *o = out + r * (concat ? 2 : 1) * c;
    int32_t ch;
    for (ch = 0; ch < c; ch++) {
      int32_t max = -128;
      int32_t sum = 0;
      int32_t i;
      int32_t j;
      int64_t v_max;
      int64_t v_mean;
      for (i = 0; i < rh; i++) {
        const int8_t *row = region + i * w * c + ch;
        for (j = 0; j < rw; j++) {
          const int32_t q = row[j * c];
          if (q > max) {
            max = q;
          }
          sum += q;
        }
      }
      v_max = (int64_t)(max - in_zp) * max_mult; /* |v_max| + |v_mean| < 2^53 */
      v_mean = ((int64_t)sum - (int64_t)n * in_zp) * mean_mult;
      if (concat) {
        o[ch] = tb_mix_pool_round(v_mean, shift, out_zp);
        o[c + ch] = tb_mix_pool_round(v_max, shift, out_zp);
      } else {
        o[ch] = tb_mix_pool_round(v_max + v_mean, shift, out_zp);
      }
    }
  }
}
