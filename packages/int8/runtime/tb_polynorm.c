/* tb_polynorm.c - see tb_polynorm.h and src/ops/polynorm.ts (the integer formulas). */
#include "tb_polynorm.h"

#include "tb_fixed_point.h"
#include "tb_int_math.h"

#define TB_POLYNORM_TERM_LIM 0x10000000 /* 2^28 */

/* The (m, e) pair of one power for a row's sum s. */
static void tb_polynorm_scale(uint64_t s, int32_t mult, int32_t mult_exp, int32_t g, uint64_t eps, int32_t *m, int32_t *e) {
  int32_t fs = 32;
  int32_t f;
  int32_t rm;
  int32_t re;
  uint64_t w;
  while (fs > 0 && s >= ((uint64_t)1 << (60 - fs))) {
    fs -= 2;
  }
  f = g < fs ? g : fs;
  w = (f >= 0 ? s << f : s >> -f) + (eps >> (g - f));
  tb_rsqrt_q31(w, &rm, &re);
  tb_mul_mant(mult, mult_exp, rm, re + f / 2, m, e);
}

void tb_polynorm_s8(const int8_t *in, int8_t *out, int32_t rows, int32_t d, int32_t in_zp,
                    const int32_t *mult, const int32_t *mult_exp, const int32_t *eps_shift,
                    uint64_t eps1, uint64_t eps2, uint64_t eps3, int32_t bias_q) {
  int32_t r;
  for (r = 0; r < rows; r++) {
    const int8_t *x = in + r * d;
    int8_t *y = out + r * d;
    uint32_t s1 = 0;
    uint64_t s2 = 0;
    uint64_t s3 = 0;
    int32_t m1, e1, m2, e2, m3, e3;
    int32_t i;
    for (i = 0; i < d; i++) {
      const int32_t u = (int32_t)x[i] - in_zp;
      const uint32_t u2 = (uint32_t)(u * u);
      const uint32_t u4 = u2 * u2; /* <= 255^4 < 2^32 */
      s1 += u2;
      s2 += u4;
      s3 += (uint64_t)u4 * u2;
    }
    tb_polynorm_scale(s1, mult[0], mult_exp[0], eps_shift[0], eps1, &m1, &e1);
    tb_polynorm_scale(s2, mult[1], mult_exp[1], eps_shift[1], eps2, &m2, &e2);
    tb_polynorm_scale(s3, mult[2], mult_exp[2], eps_shift[2], eps3, &m3, &e3);
    for (i = 0; i < d; i++) {
      const int32_t u = (int32_t)x[i] - in_zp;
      const int32_t u2 = u * u;
      const int32_t acc = tb_mul_exp(u2 * u, m3, e3, TB_POLYNORM_TERM_LIM) + tb_mul_exp(u2, m2, e2, TB_POLYNORM_TERM_LIM) +
                          tb_mul_exp(u, m1, e1, TB_POLYNORM_TERM_LIM) + bias_q;
      y[i] = tb_saturate_s8(tb_rounding_divide_by_pot(acc, 10));
    }
  }
}
