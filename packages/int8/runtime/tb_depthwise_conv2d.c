/* tb_depthwise_conv2d.c - see tb_depthwise_conv2d.h. Bit-exact with src/ops/depthwise-conv2d.ts. */
#include "tb_depthwise_conv2d.h"

#include "tb_fixed_point.h"

void tb_depthwise_conv2d_s8(const int8_t *in, int8_t *out, const tb_depthwise_conv2d_params *p) {
  const int32_t ch = p->channels;
  const int32_t in_offset = -p->in_zp;
  int32_t oy, ox, c, ky, kx;
  for (oy = 0; oy < p->out_h; oy++) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ky0 = iy0 < 0 ? -iy0 : 0;
    const int32_t ky1 = p->kernel_h < p->in_h - iy0 ? p->kernel_h : p->in_h - iy0;
    for (ox = 0; ox < p->out_w; ox++) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
      const int32_t kx1 = p->kernel_w < p->in_w - ix0 ? p->kernel_w : p->in_w - ix0;
      for (c = 0; c < ch; c++) {
        int32_t acc = 0;
        for (ky = ky0; ky < ky1; ky++) {
          const int8_t *x = in + ((iy0 + ky) * p->in_w + ix0 + kx0) * ch + c;
          const int8_t *w = p->weights + (ky * p->kernel_w + kx0) * ch + c;
          for (kx = 0; kx < kx1 - kx0; kx++) {
            acc += (int32_t)w[kx * ch] * ((int32_t)x[kx * ch] + in_offset);
          }
        }
        acc = tb_wrap_s32((uint32_t)acc + (uint32_t)p->bias[c]);
        *out++ = tb_requantize_s8(acc, p->multipliers[c], (int)p->shifts[c], p->out_zp, p->act_min, p->act_max);
      }
    }
  }
}
