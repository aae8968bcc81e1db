/*
 * tb_polynorm.h - PolyNorm over the last axis of an int8 tensor, bit-exact with
 * src/ops/polynorm.ts, which states the integer formulas. In place allowed (in == out).
 */
#ifndef TB_POLYNORM_H
#define TB_POLYNORM_H

#include <stdint.h>

/*
 * rows vectors of d values (d <= 4096). mult / mult_exp [3]: per power 1, 2, 3 a mantissa/exponent
 * pair (w/out_scale * sqrt(d) * 2^10); eps_shift [3] and eps1..eps3: the epsilon of each power's
 * mean square in fixed point; bias_q: (b/out_scale + out_zp) in Q10.
 */
void tb_polynorm_s8(const int8_t *in, int8_t *out, int32_t rows, int32_t d, int32_t in_zp,
                    const int32_t *mult, const int32_t *mult_exp, const int32_t *eps_shift,
                    uint64_t eps1, uint64_t eps2, uint64_t eps3, int32_t bias_q);

#endif /* TB_POLYNORM_H */
