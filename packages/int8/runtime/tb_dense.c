/* tb_dense.c - see tb_dense.h. Bit-exact with packages/int8/src/ops/dense.ts. */
#include "tb_dense.h"

#include "tb_dsp.h"
#include "tb_fixed_point.h"
#include "tb_mve.h"

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

#if TB_DSP && !TB_MVE
/*
 * Three rows at a time (rows n, n + 1, n + 2 at w, w + depth, w + 2 * depth: one pointer, so no
 * register spills), 8 input bytes per step: each input word -> [x0, x2] / [x1, x3] + in_offset
 * (SXTAB16), shared by the rows; each row's weight word -> [w0, w2] / [w1, w3] (SXTB16), two
 * SMLADs (inline assembly when optimising). The accumulators start at the bias: SMLAD adds modulo 2^32, so the result is
 * wrap32(sum + bias) as in the portable kernel.
 */
#define TB_DENSE_STEP4(acc, wp, x02, x13)             \
  do {                                                \
    const uint32_t wv_ = tb_read_u32(wp);             \
    acc = __smlad(tb_sxtb16(wv_), x02, acc);          \
    acc = __smlad(tb_sxtb16_ror8(wv_), x13, acc);     \
  } while (0)

static void tb_dense_s8_dsp(const int8_t *in, int8_t *out, const tb_dense_params *p) {
  const int32_t depth = p->in_features;
  const int32_t n_out = p->out_features;
  const int32_t off = -p->in_zp;
  const int32_t off2 = tb_pack2(off);
  const int32_t zp = p->out_zp;
  const int32_t lo = p->act_min - zp;
  const int32_t hi = p->act_max - zp;
  const int32_t d8 = depth & ~(int32_t)7;
  const int32_t d4 = depth & ~(int32_t)3;
  int32_t n = 0;
  for (; n + 3 <= n_out; n += 3) {
    const int8_t *w = p->weights + n * depth;
    const int8_t *x = in;
    const int8_t *x_end = in + d8;
    int32_t a0 = p->bias[n], a1 = p->bias[n + 1], a2 = p->bias[n + 2];
    int32_t d;
#if defined(__OPTIMIZE__)
    /* inline assembly (12 registers: gcc's own allocation spills here); -O0 keeps r7 for the frame */
    if (x != x_end) {
      uint32_t xv, x02, wv, wu;
      /* rows w, w + depth, w + 2 * depth; x13 overwrites xv; w advances with the last load */
#define TB_DENSE_ASM_STEP                              \
  "ldr %[xv], [%[x]], #4\n\t"                          \
  "sxtab16 %[x02], %[off2], %[xv]\n\t"                 \
  "sxtab16 %[xv], %[off2], %[xv], ror #8\n\t"          \
  "ldr %[wv], [%[w], %[depth]]\n\t"                   \
  "sxtb16 %[wu], %[wv]\n\t"                            \
  "smlad %[a1], %[wu], %[x02], %[a1]\n\t"              \
  "sxtb16 %[wv], %[wv], ror #8\n\t"                    \
  "smlad %[a1], %[wv], %[xv], %[a1]\n\t"               \
  "ldr %[wv], [%[w], %[depth], lsl #1]\n\t"           \
  "sxtb16 %[wu], %[wv]\n\t"                            \
  "smlad %[a2], %[wu], %[x02], %[a2]\n\t"              \
  "sxtb16 %[wv], %[wv], ror #8\n\t"                    \
  "smlad %[a2], %[wv], %[xv], %[a2]\n\t"               \
  "ldr %[wv], [%[w]], #4\n\t"                          \
  "sxtb16 %[wu], %[wv]\n\t"                            \
  "smlad %[a0], %[wu], %[x02], %[a0]\n\t"              \
  "sxtb16 %[wv], %[wv], ror #8\n\t"                    \
  "smlad %[a0], %[wv], %[xv], %[a0]\n\t"
      __asm__ volatile("1:\n\t" TB_DENSE_ASM_STEP TB_DENSE_ASM_STEP
                       "cmp %[x], %[x_end]\n\t"
                       "bne 1b"
                       : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [x] "+r"(x), [w] "+r"(w), [xv] "=&r"(xv), [x02] "=&r"(x02), [wv] "=&r"(wv), [wu] "=&r"(wu)
                       : [x_end] "r"(x_end), [depth] "r"(depth), [off2] "r"(off2)
                       : "cc", "memory");
#undef TB_DENSE_ASM_STEP
    }
#else
    while (x != x_end) {
      const uint32_t xv = tb_read_u32(x);
      const int32_t x02 = tb_sxtab16(off2, xv);
      const int32_t x13 = tb_sxtab16_ror8(off2, xv);
      TB_DENSE_STEP4(a0, w, x02, x13);
      TB_DENSE_STEP4(a1, w + depth, x02, x13);
      TB_DENSE_STEP4(a2, w + 2 * depth, x02, x13);
      x += 4;
      w += 4;
    }
#endif
    if (d8 != d4) {
      const uint32_t xv = tb_read_u32(x);
      const int32_t x02 = tb_sxtab16(off2, xv);
      const int32_t x13 = tb_sxtab16_ror8(off2, xv);
      TB_DENSE_STEP4(a0, w, x02, x13);
      TB_DENSE_STEP4(a1, w + depth, x02, x13);
      TB_DENSE_STEP4(a2, w + 2 * depth, x02, x13);
      w += 4;
    }
    for (d = d4; d < depth; d++) {
      const int32_t xv = (int32_t)in[d] + off;
      a0 = __smlabb((int32_t)w[0], xv, a0);
      a1 = __smlabb((int32_t)w[depth], xv, a1);
      a2 = __smlabb((int32_t)w[2 * depth], xv, a2);
      w++;
    }
    out[n] = tb_requant_fast(a0, p->multipliers[n], p->shifts[n], zp, lo, hi);
    out[n + 1] = tb_requant_fast(a1, p->multipliers[n + 1], p->shifts[n + 1], zp, lo, hi);
    out[n + 2] = tb_requant_fast(a2, p->multipliers[n + 2], p->shifts[n + 2], zp, lo, hi);
  }
  for (; n < n_out; n++) {
    const int8_t *w0 = p->weights + n * depth;
    const int8_t *x = in;
    int32_t a0 = p->bias[n];
    int32_t d;
    for (d = 0; d < d4; d += 4) {
      const uint32_t xv = tb_read_u32(x);
      x += 4;
      TB_DENSE_STEP4(a0, w0, tb_sxtab16(off2, xv), tb_sxtab16_ror8(off2, xv));
      w0 += 4;
    }
    for (; d < depth; d++) a0 = __smlabb((int32_t)*w0++, (int32_t)in[d] + off, a0);
    out[n] = tb_requant_fast(a0, p->multipliers[n], p->shifts[n], zp, lo, hi);
  }
}
#undef TB_DENSE_STEP4
#endif

#if TB_MVE
/*
 * MVE: three rows at a time, 16 inputs a step: one input vector (raw int8) shared by the rows,
 * per row one weight vector, VMLADAVA (sum w * x) and VADDVA (sum w): six accumulators in the
 * even registers VMLADAV needs. acc = sum w * x + (bias + off * sum w) modulo 2^32, as the
 * portable kernel's wrap32(sum w * (x + off) + bias). The last depth % 16 inputs: predicated loads.
 */
#define TB_DENSE_MVE_ROW(a, s, wv, xv) \
  do {                                 \
    s = vaddvaq_s8(s, wv);             \
    a = vmladavaq_s8(a, wv, xv);       \
  } while (0)

static int8_t tb_dense_mve_out(int32_t a, int32_t s, int32_t n, int32_t off, const tb_dense_params *p) {
  const int32_t acc = tb_wrap_s32((uint32_t)a + (uint32_t)p->bias[n] + (uint32_t)off * (uint32_t)s);
  return tb_requant_s(acc, p->multipliers[n], p->shifts[n], p->out_zp, p->act_min - p->out_zp, p->act_max - p->out_zp);
}

static void tb_dense_s8_mve(const int8_t *in, int8_t *out, const tb_dense_params *p) {
  const int32_t depth = p->in_features;
  const int32_t n_out = p->out_features;
  const int32_t off = -p->in_zp;
  const int32_t n16 = depth >> 4;
  const int32_t tail = depth & 15;
  const mve_pred16_t tail_pr = vctp8q((uint32_t)tail);
  const int32_t d16 = depth - tail;
  int32_t n = 0, j;
  for (; n + 3 <= n_out; n += 3) {
    const int8_t *w0 = p->weights + n * depth;
    const int8_t *w1 = w0 + depth;
    const int8_t *w2 = w1 + depth;
    const int8_t *x = in;
    int32_t a0 = 0, a1 = 0, a2 = 0, s0 = 0, s1 = 0, s2 = 0;
    for (j = 0; j < n16; j++) {
      const int8x16_t xv = vld1q_s8(x);
      TB_DENSE_MVE_ROW(a0, s0, vld1q_s8(w0), xv);
      TB_DENSE_MVE_ROW(a1, s1, vld1q_s8(w1), xv);
      TB_DENSE_MVE_ROW(a2, s2, vld1q_s8(w2), xv);
      x += 16;
      w0 += 16;
      w1 += 16;
      w2 += 16;
    }
    if (tail > 0) {
      const int8x16_t xv = vldrbq_z_s8(in + d16, tail_pr);
      TB_DENSE_MVE_ROW(a0, s0, vldrbq_z_s8(w0, tail_pr), xv);
      TB_DENSE_MVE_ROW(a1, s1, vldrbq_z_s8(w1, tail_pr), xv);
      TB_DENSE_MVE_ROW(a2, s2, vldrbq_z_s8(w2, tail_pr), xv);
    }
    out[n] = tb_dense_mve_out(a0, s0, n, off, p);
    out[n + 1] = tb_dense_mve_out(a1, s1, n + 1, off, p);
    out[n + 2] = tb_dense_mve_out(a2, s2, n + 2, off, p);
  }
  for (; n < n_out; n++) {
    const int8_t *w0 = p->weights + n * depth;
    int32_t a0 = 0, s0 = 0;
    for (j = 0; j < n16; j++) TB_DENSE_MVE_ROW(a0, s0, vld1q_s8(w0 + 16 * j), vld1q_s8(in + 16 * j));
    if (tail > 0) TB_DENSE_MVE_ROW(a0, s0, vldrbq_z_s8(w0 + d16, tail_pr), vldrbq_z_s8(in + d16, tail_pr));
    out[n] = tb_dense_mve_out(a0, s0, n, off, p);
  }
}
#undef TB_DENSE_MVE_ROW
#endif

void tb_dense_s8(const int8_t *in, int8_t *out, const tb_dense_params *p) {
#if TB_MVE
  tb_dense_s8_mve(in, out, p);
#elif TB_DSP
  tb_dense_s8_dsp(in, out, p);
#else
  tb_dense_s8_portable(in, out, p);
#endif
}
