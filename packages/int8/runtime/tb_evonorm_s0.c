/* tb_evonorm_s0.c - see tb_evonorm_s0.h and src/ops/evonorm-s0.ts (the integer formulas). */
#include "tb_evonorm_s0.h"

#include "tb_fixed_point.h"
#include "tb_int_math.h"

void tb_evonorm_s0_s8(const int8_t *in, int8_t *out, int32_t hw, int32_t c, int32_t groups, int32_t in_zp,
                      const int32_t *v_q, const int32_t *v_shift, const int32_t *sigmoid, const int32_t *gamma_mult,
                      const int32_t *gamma_exp, const int32_t *beta_q, int32_t var_shift, uint64_t eps_q) {
  const int32_t cg = c / groups;
  const int32_t n = hw * cg;
  const int32_t total = hw * c;
  int32_t g;
  for (g = 0; g < groups; g++) {
    const int32_t c0 = g * cg;
    int32_t s1 = 0;
    uint32_t s2 = 0;
    int32_t p;
    int32_t ch;
    int32_t rm;
    int32_t re;
    int64_t t;
    for (p = 0; p < total; p += c) {
      int32_t i;
      for (i = p + c0; i < p + c0 + cg; i++) {
        const int32_t u = (int32_t)in[i] - in_zp;
        s1 += u;
        s2 += (uint32_t)(u * u);
      }
    }
    t = (int64_t)n * (int64_t)s2 - (int64_t)s1 * (int64_t)s1; /* >= 0 */
    tb_rsqrt_q31((var_shift >= 0 ? (uint64_t)t << var_shift : (uint64_t)t >> -var_shift) + eps_q, &rm, &re);
    for (ch = c0; ch < c0 + cg; ch++) {
      int32_t m;
      int32_t e;
      int32_t i;
      const int32_t vq = v_q[ch];
      const int32_t vs = v_shift[ch];
      const int32_t beta = beta_q[ch];
      tb_mul_mant(gamma_mult[ch], gamma_exp[ch], rm, re, &m, &e);
      for (i = ch; i < total; i += c) {
        const int32_t u = (int32_t)in[i] - in_zp;
        const int32_t z = vq * u; /* |z| < 2^31 */
        const int32_t a = (z < 0 ? -z : z) >> vs;
        int32_t sv;
        if (a >= 0x1000000) {
          sv = sigmoid[256];
        } else {
          const int32_t k = a >> 16;
          sv = sigmoid[k] + (((sigmoid[k + 1] - sigmoid[k]) * ((a & 0xFFFF) >> 2) + 8192) >> 14);
        }
        out[i] = tb_saturate_s8(tb_rounding_divide_by_pot(tb_mul_exp(u * (z >= 0 ? sv : 0x400000 - sv), m, e, 0x20000000) + beta, 4));
      }
    }
  }
}
