/* tb_dense.c - see tb_dense.h. Bit-exact with packages/int8/src/ops/dense.ts. */
#include "tb_dense.h"

#include "tb_dsp.h"
#include "tb_fixed_point.h"

void tb_dense_s8_portable(const int8_t *in, int8_t *out, const tb_dense_params *p) {
  const int32_t depth = p->in_features;
  const int32_t in_offset = -p->in_zp;
  int32_t n, d;
  for (n = 0; n < p->out_features; n++) {
    const int8_t *w = p->weights + n * depth;
    int32_t acc = 0;
    for (d = 0; d < depth; d++) {
      acc += (int32_t)w[d] * ((int32_t)in[d] + in_offset);
    }
    acc = tb_wrap_s32((uint32_t)acc + (uint32_t)p->bias[n]);
    out[n] = tb_requantize_s8(acc, p->multipliers[n], (int)p->shifts[n], p->out_zp, p->act_min, p->act_max);
  }
}

#if TB_DSP
/*
 * Four rows at a time: 4 input bytes -> [x0, x2] / [x1, x3] + in_offset (SXTAB16), shared by the
 * rows; each row's 4 weights -> [w0, w2] / [w1, w3] (SXTB16), two SMLADs. The accumulators start at
 * the bias: SMLAD adds modulo 2^32, so the result is wrap32(sum + bias) as in the portable kernel.
 */
static void tb_dense_s8_dsp(const int8_t *in, int8_t *out, const tb_dense_params *p) {
  const int32_t depth = p->in_features;
  const int32_t n_out = p->out_features;
  const int32_t off = -p->in_zp;
  const int32_t off2 = tb_pack2(off);
  const int32_t zp = p->out_zp;
  const int32_t lo = p->act_min - zp;
  const int32_t hi = p->act_max - zp;
  const int32_t d4 = depth & ~(int32_t)3;
  int32_t n = 0;
  for (; n + 4 <= n_out; n += 4) {
    const int8_t *w0 = p->weights + n * depth; /* rows n, n + 1 at w0, w0 + depth */
    const int8_t *w2 = w0 + 2 * depth;          /* rows n + 2, n + 3 */
    const int8_t *x = in;
    const int8_t *x_end = in + d4;
    int32_t a0 = p->bias[n], a1 = p->bias[n + 1], a2 = p->bias[n + 2], a3 = p->bias[n + 3];
    int32_t d;
    while (x != x_end) {
      const uint32_t xv = tb_read_u32(x);
      const int32_t x02 = tb_sxtab16(off2, xv);
      const int32_t x13 = tb_sxtab16_ror8(off2, xv);
      uint32_t wv;
      x += 4;
      wv = tb_read_u32(w0);
      a0 = __smlad(tb_sxtb16(wv), x02, a0);
      a0 = __smlad(tb_sxtb16_ror8(wv), x13, a0);
      wv = tb_read_u32(w0 + depth);
      a1 = __smlad(tb_sxtb16(wv), x02, a1);
      a1 = __smlad(tb_sxtb16_ror8(wv), x13, a1);
      w0 += 4;
      wv = tb_read_u32(w2);
      a2 = __smlad(tb_sxtb16(wv), x02, a2);
      a2 = __smlad(tb_sxtb16_ror8(wv), x13, a2);
      wv = tb_read_u32(w2 + depth);
      a3 = __smlad(tb_sxtb16(wv), x02, a3);
      a3 = __smlad(tb_sxtb16_ror8(wv), x13, a3);
      w2 += 4;
    }
    {
      const int8_t *w1 = w0 + depth;
      const int8_t *w3 = w2 + depth;
      for (d = d4; d < depth; d++) {
        const int32_t xv = (int32_t)in[d] + off;
        a0 = __smlabb((int32_t)*w0++, xv, a0);
        a1 = __smlabb((int32_t)*w1++, xv, a1);
        a2 = __smlabb((int32_t)*w2++, xv, a2);
        a3 = __smlabb((int32_t)*w3++, xv, a3);
      }
    }
    out[n] = tb_requant_fast(a0, p->multipliers[n], p->shifts[n], zp, lo, hi);
    out[n + 1] = tb_requant_fast(a1, p->multipliers[n + 1], p->shifts[n + 1], zp, lo, hi);
    out[n + 2] = tb_requant_fast(a2, p->multipliers[n + 2], p->shifts[n + 2], zp, lo, hi);
    out[n + 3] = tb_requant_fast(a3, p->multipliers[n + 3], p->shifts[n + 3], zp, lo, hi);
  }
  for (; n < n_out; n++) {
    const int8_t *w0 = p->weights + n * depth;
    const int8_t *x = in;
    int32_t a0 = p->bias[n];
    int32_t d;
    for (d = 0; d < d4; d += 4) {
      const uint32_t xv = tb_read_u32(x);
      const uint32_t wv = tb_read_u32(w0);
      x += 4;
      w0 += 4;
      a0 = __smlad(tb_sxtb16(wv), tb_sxtab16(off2, xv), a0);
      a0 = __smlad(tb_sxtb16_ror8(wv), tb_sxtab16_ror8(off2, xv), a0);
    }
    for (; d < depth; d++) a0 = __smlabb((int32_t)*w0++, (int32_t)in[d] + off, a0);
    out[n] = tb_requant_fast(a0, p->multipliers[n], p->shifts[n], zp, lo, hi);
  }
}
#endif

void tb_dense_s8(const int8_t *in, int8_t *out, const tb_dense_params *p) {
#if TB_DSP
  tb_dense_s8_dsp(in, out, p);
#else
  tb_dense_s8_portable(in, out, p);
#endif
}
