/* tb_dense.c - see tb_dense.h. Bit-exact with packages/int8/src/ops/dense.ts. */
#include "tb_dense.h"

#include "tb_fixed_point.h"

void tb_dense_s8(const int8_t *in, int8_t *out, const tb_dense_params *p) {
  const int32_t depth = p->in_features;
  const int32_t in_offset = -p->in_zp;
  int32_t n, d;
  for (n = 0; n < p->out_features; n++) {
    const int8_t *w = p->weights + n * depth;
    int32_t acc = 0;
    for (d = 0; d < depth; d++) {
      acc += (int32_t)w[d] * ((int32_t)in[d] + in_offset);
    }
    acc = tb_wrap_s32((uint32_t)acc + (uint32_t)p->bias[n]);
    out[n] = tb_requantize_s8(acc, p->multipliers[n], (int)p->shifts[n], p->out_zp, p->act_min, p->act_max);
  }
}
