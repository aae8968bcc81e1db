/* tb_add.c - see tb_add.h. Bit-exact with packages/int8/src/ops/add.ts. */
#include "tb_add.h"

#include "tb_fixed_point.h"

void tb_add_s8(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const tb_add_params *p) {
  const int32_t lift = (int32_t)1 << p->left_shift;
  int32_t i;
  for (i = 0; i < n; i++) {
    const int32_t sa = tb_multiply_by_quantized_multiplier(((int32_t)a[i] - p->a_zp) * lift, p->a_multiplier, (int)p->a_shift);
    const int32_t sb = tb_multiply_by_quantized_multiplier(((int32_t)b[i] - p->b_zp) * lift, p->b_multiplier, (int)p->b_shift);
    const int32_t y = tb_multiply_by_quantized_multiplier(sa + sb, p->out_multiplier, (int)p->out_shift) + p->out_zp;
    out[i] = (int8_t)tb_clamp_s32(y, p->act_min, p->act_max);
  }
}
