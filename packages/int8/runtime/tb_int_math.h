/*
 * tb_int_math.h - integer helpers of the normalisation kernels (evonorm_b0, evonorm_s0, polynorm),
 * bit-exact with src/ops/int-math.ts (which states the formulas). Header only, C99, no float, no
 * 64-bit division (the reciprocal uses a 32-bit restoring loop).
 *
 * A mantissa/exponent pair (m, e) stands for m * 2^(e - 31), |m| in [2^30, 2^31) or m = 0, with
 * e not limited to TFLite's [-31, 30].
 */
#ifndef TB_INT_MATH_H
#define TB_INT_MATH_H

#include <stdint.h>
#include "tb_fixed_point.h"

/* floor(sqrt(x)) for any uint64_t (bit-by-bit, 32 steps). */
static inline uint32_t tb_isqrt_u64(uint64_t x) {
  uint64_t res = 0;
  uint64_t one = (uint64_t)1 << 62;
  while (one > x) {
    one >>= 2;
  }
  while (one != 0) {
    if (x >= res + one) {
      x -= res + one;
      res = (res >> 1) + one;
    } else {
      res >>= 1;
    }
    one >>= 2;
  }
  return (uint32_t)res;
}

/* w in [1, 2^62) (0 -> 1, larger -> 2^62 - 1): returns s = isqrt(w * 4^j) in [2^30, 2^31), the
 * least j >= 0 with w * 4^j >= 2^60 in *j. sqrt(w) ~= s * 2^-j. */
static inline uint32_t tb_norm_sqrt_u64(uint64_t w, int32_t *j) {
  int32_t k = 0;
  if (w == 0) {
    w = 1;
  }
  if (w >= ((uint64_t)1 << 62)) {
    w = ((uint64_t)1 << 62) - 1u;
  }
  while (w < ((uint64_t)1 << 60)) {
    w <<= 2;
    k++;
  }
  *j = k;
  return tb_isqrt_u64(w);
}

/* 1/sqrt(w) as (m, e): m = round(2^61 / s) (ties up), e = j - 30; m = 2^31 -> 2^30, e + 1. */
static inline void tb_rsqrt_q31(uint64_t w, int32_t *m, int32_t *e) {
  int32_t j;
  const uint32_t s = tb_norm_sqrt_u64(w, &j);
  /* q = floor(2^62 / s) = floor(2^31 * 2^31 / s): start with 2^31 / s (1 or 2), then 31 bits */
  uint64_t q = (s == 0x40000000u) ? 2u : 1u;
  uint32_t r = 0x80000000u - (uint32_t)q * s;
  int i;
  for (i = 0; i < 31; i++) {
    r <<= 1; /* r < s < 2^31 */
    q <<= 1;
    if (r >= s) {
      r -= s;
      q |= 1u;
    }
  }
  q = (q + 1u) >> 1; /* in (2^30, 2^31] */
  if (q == 0x80000000u) {
    *m = 0x40000000;
    *e = j - 29;
  } else {
    *m = (int32_t)q;
    *e = j - 30;
  }
}

/* (a * 2^(ae-31)) * (b * 2^(be-31)) as a normalised pair (0 if a or b is 0). */
static inline void tb_mul_mant(int32_t a, int32_t ae, int32_t b, int32_t be, int32_t *m, int32_t *e) {
  int32_t v;
  if (a == 0 || b == 0) {
    *m = 0;
    *e = 0;
    return;
  }
  v = tb_saturating_rounding_doubling_high_mul(a, b);
  *e = ae + be;
  if (v < 0x40000000 && v > -0x40000000) {
    v *= 2;
    *e -= 1;
  }
  *m = v;
}

/* round(x * m * 2^(e-31)) clamped to [-lim, lim] (lim <= 2^30; |m| >= 2^30 or m = 0). */
static inline int32_t tb_mul_exp(int32_t x, int32_t m, int32_t e, int32_t lim) {
  int32_t v;
  if (m == 0 || x == 0) {
    return 0;
  }
  if (e > 0) {
    int32_t bound;
    if (e >= 31) {
      return ((x < 0) != (m < 0)) ? -lim : lim;
    }
    bound = INT32_MAX >> e;
    if (x > bound || x < -bound) {
      return ((x < 0) != (m < 0)) ? -lim : lim;
    }
    v = tb_saturating_rounding_doubling_high_mul(x * ((int32_t)1 << e), m);
  } else if (e < -31) {
    return 0;
  } else {
    v = tb_rounding_divide_by_pot(tb_saturating_rounding_doubling_high_mul(x, m), (int)-e);
  }
  return tb_clamp_s32(v, -lim, lim);
}

#endif /* TB_INT_MATH_H */
