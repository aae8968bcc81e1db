/*
 * tb_upsample2d.h - int8 nearest-neighbour upsampling of an [in_h, in_w, channels] map by
 * (size_h, size_w): out[oy, ox, c] = in[oy / size_h, ox / size_w, c]. in and out must not overlap.
 * Bit-exact with packages/int8/src/ops/upsample2d.ts.
 */
#ifndef TB_UPSAMPLE2D_H
#define TB_UPSAMPLE2D_H

#include <stdint.h>

void tb_upsample2d_s8(const int8_t *in, int8_t *out, int32_t in_h, int32_t in_w, int32_t channels, int32_t size_h, int32_t size_w);

#endif /* TB_UPSAMPLE2D_H */
