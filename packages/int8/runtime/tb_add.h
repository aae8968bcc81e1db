/*
 * tb_add.h - elementwise int8 addition (TFLite reference integer_ops::Add semantics), C99.
 *
 * For every i in [0, n):
 *   a'  = multiply_by_quantized_multiplier((a[i] - a_zp) << left_shift, a_multiplier, a_shift)
 *   b'  = multiply_by_quantized_multiplier((b[i] - b_zp) << left_shift, b_multiplier, b_shift)
 *   out = clamp(multiply_by_quantized_multiplier(a' + b', out_multiplier, out_shift) + out_zp,
 *               act_min, act_max)
 * left_shift <= 22 and shifts <= 0 (multipliers < 1), so every intermediate fits int32.
 * out may equal a or b (in-place).
 */
#ifndef TB_ADD_H
#define TB_ADD_H

#include <stdint.h>

typedef struct {
  int32_t a_zp, b_zp, out_zp;
  int32_t left_shift;
  int32_t a_multiplier, a_shift;
  int32_t b_multiplier, b_shift;
  int32_t out_multiplier, out_shift;
  int32_t act_min, act_max;
} tb_add_params;

void tb_add_s8(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const tb_add_params *p);

#endif /* TB_ADD_H */
