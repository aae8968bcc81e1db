/* tb_softmax.c - see tb_softmax.h. */
#include "tb_softmax.h"

void tb_softmax_s8(const int8_t *in, int8_t *out, const int32_t *exp_table, int32_t rows, int32_t depth) {
  int32_t r, i;
  for (r = 0; r < rows; r++) {
    const int8_t *x = in + r * depth;
    int8_t *y = out + r * depth;
    int32_t m = -128;
    uint32_t sum = 0u;
    uint32_t half;
    for (i = 0; i < depth; i++) {
      if (x[i] > m) m = x[i];
    }
    for (i = 0; i < depth; i++) sum += (uint32_t)exp_table[m - x[i]];
    half = sum / 2u;
    for (i = 0; i < depth; i++) {
      const uint32_t q = ((uint32_t)exp_table[m - x[i]] * 256u + half) / sum;
      const int32_t v = (int32_t)q - 128;
      y[i] = (int8_t)(v > 127 ? 127 : v);
    }
  }
}
