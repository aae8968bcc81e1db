/*
 * tb_lut.h - elementwise int8 table lookup over an array, C99, header only.
 *
 *   out[i] = table[in[i] + 128]   for i in [0, n)
 *
 * The table (256 entries) is built at export (src/lut.ts, buildLut). out may equal in (in-place).
 * Named tb_lut_apply_s8 because tb_fixed_point.h already has the single-value tb_lut_s8.
 */
#ifndef TB_LUT_H
#define TB_LUT_H

#include <stdint.h>

#include "tb_fixed_point.h"

static inline void tb_lut_apply_s8(const int8_t table[256], const int8_t *in, int8_t *out, int32_t n) {
  int32_t i;
  for (i = 0; i < n; i++) {
    out[i] = tb_lut_s8(table, in[i]);
  }
}

#endif /* TB_LUT_H */
