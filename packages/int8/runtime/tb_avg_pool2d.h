/*
 * tb_avg_pool2d.h - int8 average pooling (TFLite reference AveragePool semantics), C99.
 *
 * in [in_h, in_w, channels] and out [out_h, out_w, channels] share scale and zero point. For every
 * output (oy, ox, c), over the in-bounds taps of the window only (padding is not counted):
 *   sum = sum of in[oy*stride_h - pad_top + ky, ox*stride_w - pad_left + kx, c]
 *   avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count
 *   out = clamp(avg, act_min, act_max)
 * Every window must overlap the input (count >= 1; the exporter checks it). in and out must not
 * overlap.
 */
#ifndef TB_AVG_POOL2D_H
#define TB_AVG_POOL2D_H

#include <stdint.h>

typedef struct {
  int32_t in_h, in_w, channels;
  int32_t out_h, out_w;
  int32_t pool_h, pool_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left;
  int32_t act_min, act_max;
} tb_avg_pool2d_params;

void tb_avg_pool2d_s8(const int8_t *in, int8_t *out, const tb_avg_pool2d_params *p);

/* The window of output (oy, ox): its origin (*iy0, *ix0) in the input and its in-bounds taps,
 * rows [*ky0, *ky1) and columns [*kx0, *kx1) (shared by the average and max kernels). */
static inline void tb_pool_window(const tb_avg_pool2d_params *p, int32_t oy, int32_t ox, int32_t *iy0, int32_t *ix0,
                                  int32_t *ky0, int32_t *ky1, int32_t *kx0, int32_t *kx1) {
  *iy0 = oy * p->stride_h - p->pad_top;
  *ix0 = ox * p->stride_w - p->pad_left;
  *ky0 = *iy0 < 0 ? -*iy0 : 0;
  *ky1 = p->pool_h < p->in_h - *iy0 ? p->pool_h : p->in_h - *iy0;
  *kx0 = *ix0 < 0 ? -*ix0 : 0;
  *kx1 = p->pool_w < p->in_w - *ix0 ? p->pool_w : p->in_w - *ix0;
}

#endif /* TB_AVG_POOL2D_H */
