/* tb_conv2d.c - see tb_conv2d.h. Bit-exact with packages/int8/src/ops/conv2d.ts. */
#include "tb_conv2d.h"

#include "tb_fixed_point.h"

void tb_conv2d_s8(const int8_t *in, int8_t *out, const tb_conv2d_params *p) {
  const int32_t in_c = p->in_c;
  const int32_t in_offset = -p->in_zp;
  const int32_t w_row = p->kernel_w * in_c;
  const int32_t w_oc = p->kernel_h * w_row;
  int32_t oy, ox, oc, ky, i;
  for (oy = 0; oy < p->out_h; oy++) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ky0 = iy0 < 0 ? -iy0 : 0;
    const int32_t ky1 = p->kernel_h < p->in_h - iy0 ? p->kernel_h : p->in_h - iy0;
    for (ox = 0; ox < p->out_w; ox++) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
      const int32_t kx1 = p->kernel_w < p->in_w - ix0 ? p->kernel_w : p->in_w - ix0;
      const int32_t span = (kx1 - kx0) * in_c; /* one kernel row: contiguous in in and weights */
      for (oc = 0; oc < p->out_c; oc++) {
        int32_t acc = 0;
        for (ky = ky0; ky < ky1; ky++) {
          const int8_t *x = in + ((iy0 + ky) * p->in_w + ix0 + kx0) * in_c;
          const int8_t *w = p->weights + oc * w_oc + ky * w_row + kx0 * in_c;
          for (i = 0; i < span; i++) {
            acc += (int32_t)w[i] * ((int32_t)x[i] + in_offset);
          }
        }
        acc = tb_wrap_s32((uint32_t)acc + (uint32_t)p->bias[oc]);
        *out++ = tb_requantize_s8(acc, p->multipliers[oc], (int)p->shifts[oc], p->out_zp, p->act_min, p->act_max);
      }
    }
  }
}
