/* tb_mix_pool.c - see tb_mix_pool.h and src/ops/mix-pool.ts (the integer formulas). */
#include "tb_mix_pool.h"

void tb_mix_pool_s8(const int8_t *in, int8_t *out, int32_t n, int32_t c, int32_t in_zp, int32_t out_zp,
                    int64_t max_mult, int64_t mean_mult, int32_t shift) {
  const int32_t total = n * c;
  const uint64_t half = (uint64_t)1 << (shift - 1);
  int32_t ch;
  for (ch = 0; ch < c; ch++) {
    int32_t max = -128;
    int32_t sum = 0;
    int32_t i;
    int64_t v;
    int64_t y;
    for (i = ch; i < total; i += c) {
      const int32_t q = in[i];
      if (q > max) {
        max = q;
      }
      sum += q;
    }
    v = (int64_t)(max - in_zp) * max_mult + ((int64_t)sum - (int64_t)n * in_zp) * mean_mult; /* |v| < 2^53 */
    /* round half away from zero of v / 2^shift */
    y = v >= 0 ? (int64_t)(((uint64_t)v + half) >> shift) : -(int64_t)(((uint64_t)-v + half) >> shift);
    y += out_zp;
    out[ch] = (int8_t)(y < -128 ? -128 : (y > 127 ? 127 : y));
  }
}
