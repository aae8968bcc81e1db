/* tb_evonorm_b0.c - see tb_evonorm_b0.h and src/ops/evonorm-b0.ts (the integer formulas). */
#include "tb_evonorm_b0.h"

#include "tb_fixed_point.h"
#include "tb_int_math.h"

void tb_evonorm_b0_s8(const int8_t *in, int8_t *out, int32_t n, int32_t c, int32_t in_zp,
                      const int32_t *frac_bits, const int32_t *batch_std, const int32_t *v_q,
                      const int32_t *multiplier, const int32_t *shift, const int32_t *beta_q,
                      int32_t var_shift, uint64_t eps_q, int32_t inv_n_mult, int32_t inv_n_shift) {
  const int32_t total = n * c;
  int32_t ch;
  for (ch = 0; ch < c; ch++) {
    int32_t s1 = 0;
    uint32_t s2 = 0;
    int32_t i;
    int32_t j;
    int64_t t;
    uint32_t s;
    int32_t inst;
    const int32_t fb = frac_bits[ch];
    const int32_t vq = v_q[ch];
    const int32_t bstd = batch_std[ch];
    for (i = ch; i < total; i += c) {
      const int32_t u = (int32_t)in[i] - in_zp;
      s1 += u;
      s2 += (uint32_t)(u * u);
    }
    t = (int64_t)n * (int64_t)s2 - (int64_t)s1 * (int64_t)s1; /* >= 0 */
    s = tb_norm_sqrt_u64((var_shift >= 0 ? (uint64_t)t << var_shift : (uint64_t)t >> -var_shift) + eps_q, &j);
    inst = tb_mul_exp((int32_t)s, inv_n_mult, inv_n_shift + fb - j - var_shift / 2, 0x3FFFFFFF);
    for (i = ch; i < total; i += c) {
      const int32_t u = (int32_t)in[i] - in_zp;
      /* arithmetic >> of a negative int64 (as every supported compiler): floor division */
      const int32_t vu = (int32_t)(((int64_t)vq * (int64_t)u + 128) >> 8);
      const int32_t tt = vu + inst;
      const uint32_t den = (uint32_t)(tt > bstd ? tt : bstd);
      const uint32_t a = (uint32_t)(u < 0 ? -u : u) << 24;
      uint32_t q = a / den;
      const uint32_t r = a - q * den;
      if (r >= den - r) {
        q++;
      }
      out[i] = tb_saturate_s8(tb_rounding_divide_by_pot(
          tb_multiply_by_quantized_multiplier(u < 0 ? -(int32_t)q : (int32_t)q, multiplier[ch], (int)shift[ch]) + beta_q[ch], 4));
    }
  }
}
