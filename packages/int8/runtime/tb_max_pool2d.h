/*
 * tb_max_pool2d.h - int8 max pooling (TFLite reference MaxPool semantics), C99.
 *
 * in [in_h, in_w, channels] and out [out_h, out_w, channels] share scale and zero point. For every
 * output (oy, ox, c), over the in-bounds taps of the window (padding is never read):
 *   out = clamp(max of in[oy*stride_h - pad_top + ky, ox*stride_w - pad_left + kx, c], act_min, act_max)
 * Parameters as tb_avg_pool2d_params. Every window must overlap the input (the exporter checks
 * it). in and out must not overlap.
 */
#ifndef TB_MAX_POOL2D_H
#define TB_MAX_POOL2D_H

#include <stdint.h>

#include "tb_avg_pool2d.h"

void tb_max_pool2d_s8(const int8_t *in, int8_t *out, const tb_avg_pool2d_params *p);

#endif /* TB_MAX_POOL2D_H */
