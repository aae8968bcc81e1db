/*
 * tb_evonorm_s0.h - EvoNorm-S0 on int8 [H, W, C] (NHWC), bit-exact with src/ops/evonorm-s0.ts,
 * which states the integer formulas and the choice of the sigmoid table. In place allowed.
 */
#ifndef TB_EVONORM_S0_H
#define TB_EVONORM_S0_H

#include <stdint.h>

/*
 * hw = H*W, c = channels, groups divides c (hw*c/groups <= 65536). Per channel arrays [c]: v_q
 * (v*in_scale in Q(20 + v_shift)), v_shift, gamma_mult / gamma_exp (a mantissa/exponent pair), beta_q (Q4 output
 * codes); sigmoid: 257 entries, sigmoid(i/16) in Q22, steps <= 2^16. var_shift / eps_q: the group variance
 * radicand T*2^f + E.
 */
void tb_evonorm_s0_s8(const int8_t *in, int8_t *out, int32_t hw, int32_t c, int32_t groups, int32_t in_zp,
                      const int32_t *v_q, const int32_t *v_shift, const int32_t *sigmoid, const int32_t *gamma_mult,
                      const int32_t *gamma_exp, const int32_t *beta_q, int32_t var_shift, uint64_t eps_q);

#endif /* TB_EVONORM_S0_H */
