/*
 * tb_softmax.h - int8 softmax over the last axis, output scale 1/256 and zero point -128 (the
 * TFLite int8 convention), integer only. For each of `rows` rows of `depth` codes:
 *   m = max x[i];  e[i] = exp_table[m - x[i]] (Q16, exp_table[0] = 65536);  S = sum e[i]
 *   out[i] = min((256 * e[i] + S / 2) / S - 128, 127)
 * depth <= 32768 (S <= 2^31: no uint32 overflow). Bit-exact with packages/int8/src/ops/softmax.ts.
 */
#ifndef TB_SOFTMAX_H
#define TB_SOFTMAX_H

#include <stdint.h>

void tb_softmax_s8(const int8_t *in, int8_t *out, const int32_t *exp_table, int32_t rows, int32_t depth);

#endif /* TB_SOFTMAX_H */
