/*
 * tb_reshape.h - reshape: the same bytes under a new shape (NHWC order kept), C99, header only.
 *
 *   out[i] = in[i]   for i in [0, n)
 *
 * A memmove; nothing to do when the planner put out on in's buffer (in == out).
 */
#ifndef TB_RESHAPE_H
#define TB_RESHAPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void tb_reshape_s8(const int8_t *in, int8_t *out, int32_t n) {
  if (in != out && n > 0) {
    memmove(out, in, (size_t)n);
  }
}

#endif /* TB_RESHAPE_H */
