/*
 * tb_pad2d.h - int8 zero padding of an [in_h, in_w, channels] map (TFLite PAD, pad value = the
 * zero point): out [out_h, out_w, channels] holds in at (top, left) and zero_point elsewhere.
 * in and out must not overlap. Bit-exact with packages/int8/src/ops/pad2d.ts.
 */
#ifndef TB_PAD2D_H
#define TB_PAD2D_H

#include <stdint.h>

void tb_pad2d_s8(const int8_t *in, int8_t *out, int32_t in_h, int32_t in_w, int32_t channels, int32_t top, int32_t left,
                 int32_t out_h, int32_t out_w, int32_t zero_point);

#endif /* TB_PAD2D_H */
