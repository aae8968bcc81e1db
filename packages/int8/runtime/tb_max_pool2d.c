/* tb_max_pool2d.c - see tb_max_pool2d.h. Bit-exact with packages/int8/src/ops/max-pool2d.ts. */
#include "tb_max_pool2d.h"

#include "tb_fixed_point.h"

void tb_max_pool2d_s8(const int8_t *in, int8_t *out, const tb_avg_pool2d_params *p) {
  const int32_t ch = p->channels;
  int32_t oy, ox, c, ky, kx;
  for (oy = 0; oy < p->out_h; oy++) {
    for (ox = 0; ox < p->out_w; ox++) {
      int32_t iy0, ix0, ky0, ky1, kx0, kx1;
      tb_pool_window(p, oy, ox, &iy0, &ix0, &ky0, &ky1, &kx0, &kx1);
      for (c = 0; c < ch; c++) {
        int32_t m = -128;
        for (ky = ky0; ky < ky1; ky++) {
          const int8_t *x = in + ((iy0 + ky) * p->in_w + ix0 + kx0) * ch + c;
          for (kx = 0; kx < kx1 - kx0; kx++) {
            if (x[kx * ch] > m) m = x[kx * ch];
          }
        }
        *out++ = (int8_t)tb_clamp_s32(m, p->act_min, p->act_max);
      }
    }
  }
}
