/*
 * tb_delta_dense.h - a Delta layer fused with the following dense layer, run as a delta network
 * on int8 (stateful), bit-exact with src/ops/delta-dense.ts, which states the integer formulas.
 */
#ifndef TB_DELTA_DENSE_H
#define TB_DELTA_DENSE_H

#include <stdint.h>

/*
 * One frame: in[d] -> out[n]. step[d] (threshold in input steps, 1..511), weights [d][n]
 * (column i contiguous), bias / multiplier / shift [n]. State: khat[d] (int16) and acc[n]
 * (int32), zero-filled = fresh. Returns the MACs executed (n per transmitted non-zero delta).
 */
uint32_t tb_delta_dense_s8(const int8_t *in, int8_t *out, int32_t d, int32_t n, int32_t in_zp, int32_t relu,
                           const int16_t *step, const int8_t *weights, const int32_t *bias,
                           const int32_t *multiplier, const int32_t *shift, int32_t out_zp, int32_t act_min,
                           int32_t act_max, int16_t *khat, int32_t *acc);

/* Back to a fresh stream: khat = 0, acc = 0. */
void tb_delta_dense_reset(int16_t *khat, int32_t d, int32_t *acc, int32_t n);

#endif /* TB_DELTA_DENSE_H */
