/* tb_concat.c - see tb_concat.h. */
#include "tb_concat.h"

#include "tb_fixed_point.h"

void tb_concat_s8(const int8_t *const *ins, const int32_t *channels, const int32_t *zero_points, const int32_t *multipliers,
                  const int32_t *shifts, int32_t n_inputs, int32_t rows, int8_t *out, int32_t out_zp) {
  int32_t out_c = 0, off = 0, k, r, c;
  for (k = 0; k < n_inputs; k++) out_c += channels[k];
  for (k = 0; k < n_inputs; k++) {
    const int8_t *x = ins[k];
    for (r = 0; r < rows; r++) {
      int8_t *y = out + r * out_c + off;
      for (c = 0; c < channels[k]; c++) {
        y[c] = tb_requantize_s8((int32_t)x[r * channels[k] + c] - zero_points[k], multipliers[k], (int)shifts[k], out_zp, -128, 127);
      }
    }
    off += channels[k];
  }
}
