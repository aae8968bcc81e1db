/*
 * tb_evonorm_b0.h - EvoNorm-B0 at inference on int8 [H, W, C] (NHWC), bit-exact with
 * src/ops/evonorm-b0.ts, which states the integer formulas. In place allowed (in == out).
 */
#ifndef TB_EVONORM_B0_H
#define TB_EVONORM_B0_H

#include <stdint.h>

/*
 * n = H*W (<= 65536), c = channels. Per channel arrays [c]: frac_bits (F), batch_std (Q(F)),
 * v_q (Q(F+8)), multiplier / shift (gamma/out_scale * 2^(F-20), shift <= 0), beta_q (output
 * codes in Q4). var_shift (f) and eps_q (E) build the variance radicand T*2^f + E; inv_n_* = 1/n.
 */
void tb_evonorm_b0_s8(const int8_t *in, int8_t *out, int32_t n, int32_t c, int32_t in_zp,
                      const int32_t *frac_bits, const int32_t *batch_std, const int32_t *v_q,
                      const int32_t *multiplier, const int32_t *shift, const int32_t *beta_q,
                      int32_t var_shift, uint64_t eps_q, int32_t inv_n_mult, int32_t inv_n_shift);

#endif /* TB_EVONORM_B0_H */
