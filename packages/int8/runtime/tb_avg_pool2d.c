/* tb_avg_pool2d.c - see tb_avg_pool2d.h. Bit-exact with packages/int8/src/ops/avg-pool2d.ts. */
#include "tb_avg_pool2d.h"

#include "tb_fixed_point.h"

void tb_avg_pool2d_s8(const int8_t *in, int8_t *out, const tb_avg_pool2d_params *p) {
  const int32_t ch = p->channels;
  int32_t oy, ox, c, ky, kx;
  for (oy = 0; oy < p->out_h; oy++) {
    for (ox = 0; ox < p->out_w; ox++) {
      int32_t iy0, ix0, ky0, ky1, kx0, kx1, count;
      tb_pool_window(p, oy, ox, &iy0, &ix0, &ky0, &ky1, &kx0, &kx1);
      count = (ky1 - ky0) * (kx1 - kx0);
      for (c = 0; c < ch; c++) {
        int32_t sum = 0;
        int32_t avg;
        for (ky = ky0; ky < ky1; ky++) {
          const int8_t *x = in + ((iy0 + ky) * p->in_w + ix0 + kx0) * ch + c;
          for (kx = 0; kx < kx1 - kx0; kx++) {
            sum += x[kx * ch];
          }
        }
        avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
        *out++ = (int8_t)tb_clamp_s32(avg, p->act_min, p->act_max);
      }
    }
  }
}
