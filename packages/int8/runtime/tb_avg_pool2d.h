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

#endif /* TB_AVG_POOL2D_H */
