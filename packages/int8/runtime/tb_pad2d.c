/* tb_pad2d.c - see tb_pad2d.h. */
#include "tb_pad2d.h"

#include <string.h>

void tb_pad2d_s8(const int8_t *in, int8_t *out, int32_t in_h, int32_t in_w, int32_t channels, int32_t top, int32_t left,
                 int32_t out_h, int32_t out_w, int32_t zero_point) {
  const size_t row = (size_t)in_w * (size_t)channels;
  int32_t y;
  memset(out, (int)(int8_t)zero_point, (size_t)out_h * (size_t)out_w * (size_t)channels);
  for (y = 0; y < in_h; y++) {
    memcpy(out + ((size_t)(y + top) * (size_t)out_w + (size_t)left) * (size_t)channels, in + (size_t)y * row, row);
  }
}
