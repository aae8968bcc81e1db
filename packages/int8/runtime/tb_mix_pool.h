/*
 * tb_mix_pool.h - early-exit head pooling a*max + (1-a)*mean over H, W of an int8 [H, W, C] map,
 * per region of a grid x grid split (row-major), or [mean, max] per region with concat;
 * bit-exact with src/ops/mix-pool.ts, which states the integer formulas.
 */
#ifndef TB_MIX_POOL_H
#define TB_MIX_POOL_H

#include <stdint.h>

/*
 * [h, w, c] -> out[grid*grid*(concat ? 2 : 1)*c]; h, w divisible by grid, (h/grid)*(w/grid) <= 65536.
 * max_mult, mean_mult < 2^52 share the exponent shift.
 */
void tb_mix_pool_s8(const int8_t *in, int8_t *out, int32_t h, int32_t w, int32_t c, int32_t grid, int32_t concat,
                    int32_t in_zp, int32_t out_zp, int64_t max_mult, int64_t mean_mult, int32_t shift);

#endif /* TB_MIX_POOL_H */
