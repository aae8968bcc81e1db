/*
 * tb_concat.h - int8 concatenation on the last axis of n_inputs tensors of `rows` x channels[k]
 * codes, each requantized to the output grid:
 *   out[r, off_k + c] = clamp(multiply_by_quantized_multiplier(in_k[r, c] - zero_points[k],
 *                             multipliers[k], shifts[k]) + out_zp, -128, 127)
 * The inputs must not overlap out. Bit-exact with packages/int8/src/ops/concat.ts.
 */
#ifndef TB_CONCAT_H
#define TB_CONCAT_H

#include <stdint.h>

void tb_concat_s8(const int8_t *const *ins, const int32_t *channels, const int32_t *zero_points, const int32_t *multipliers,
                  const int32_t *shifts, int32_t n_inputs, int32_t rows, int8_t *out, int32_t out_zp);

#endif /* TB_CONCAT_H */
