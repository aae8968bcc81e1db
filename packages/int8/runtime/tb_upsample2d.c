/* tb_upsample2d.c - see tb_upsample2d.h. */
#include "tb_upsample2d.h"

#include <string.h>

void tb_upsample2d_s8(const int8_t *in, int8_t *out, int32_t in_h, int32_t in_w, int32_t channels, int32_t size_h, int32_t size_w) {
  const size_t c = (size_t)channels;
  int32_t oy, ox;
  for (oy = 0; oy < in_h * size_h; oy++) {
    const int8_t *row = in + (size_t)(oy / size_h) * (size_t)in_w * c;
    for (ox = 0; ox < in_w * size_w; ox++) {
      memcpy(out, row + (size_t)(ox / size_w) * c, c);
      out += c;
    }
  }
}
