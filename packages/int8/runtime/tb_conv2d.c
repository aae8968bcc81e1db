/* tb_conv2d.c - see tb_conv2d.h. Bit-exact with packages/int8/src/ops/conv2d.ts. */
#include "tb_conv2d.h"

#include "tb_dsp.h"
#include "tb_fixed_point.h"

void tb_conv2d_s8_portable(const int8_t *in, int8_t *out, const tb_conv2d_params *p) {
  const int32_t in_c = p->in_c;
  const int32_t in_offset = -p->in_zp;
  const int32_t w_row = p->kernel_w * in_c;
  const int32_t w_oc = p->kernel_h * w_row;
  int32_t oy, ox, oc, ky, i;
  for (oy = 0; oy < p->out_h; oy++) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ky0 = iy0 < 0 ? -iy0 : 0;
    const int32_t ky1 = p->kernel_h < p->in_h - iy0 ? p->kernel_h : p->in_h - iy0;
    for (ox = 0; ox < p->out_w; ox++) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
      const int32_t kx1 = p->kernel_w < p->in_w - ix0 ? p->kernel_w : p->in_w - ix0;
      const int32_t span = (kx1 - kx0) * in_c; /* one kernel row: contiguous in in and weights */
      for (oc = 0; oc < p->out_c; oc++) {
        int32_t acc = 0;
        for (ky = ky0; ky < ky1; ky++) {
          const int8_t *x = in + ((iy0 + ky) * p->in_w + ix0 + kx0) * in_c;
          const int8_t *w = p->weights + oc * w_oc + ky * w_row + kx0 * in_c;
          for (i = 0; i < span; i++) {
            acc += (int32_t)w[i] * ((int32_t)x[i] + in_offset);
          }
        }
        acc = tb_wrap_s32((uint32_t)acc + (uint32_t)p->bias[oc]);
        *out++ = tb_requantize_s8(acc, p->multipliers[oc], (int)p->shifts[oc], p->out_zp, p->act_min, p->act_max);
      }
    }
  }
}

#if TB_DSP
/*
 * im2col of one output pixel into col[K] (K = kernel_h * kernel_w * in_c, OHWI tap order):
 * int16 values in[...] + in_offset, 0 for padding taps (so they add nothing, as skipped taps).
 * Each group of 4 taps 4g..4g+3 is stored as [t0, t2, t1, t3] (what SXTAB16 / SXTAB16 ROR #8
 * give), matching the weights unpacked by SXTB16 / SXTB16 ROR #8; the last K % 4 taps in order.
 */
static void tb_conv2d_im2col(const int8_t *in, int16_t *col, const tb_conv2d_params *p, int32_t oy, int32_t ox, int32_t off, int32_t off2) {
  const int32_t in_c = p->in_c;
  const int32_t kh = p->kernel_h, kw = p->kernel_w;
  const int32_t iy0 = oy * p->stride_h - p->pad_top;
  const int32_t ix0 = ox * p->stride_w - p->pad_left;
  const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
  const int32_t kx1 = kw < p->in_w - ix0 ? kw : p->in_w - ix0;
  const int32_t row = kw * in_c;
  int32_t ky;
  if ((in_c & 3) == 0) {
    for (ky = 0; ky < kh; ky++) {
      const int32_t iy = iy0 + ky;
      int16_t *c = col + ky * row;
      if (iy < 0 || iy >= p->in_h) {
        memset(c, 0, (size_t)row * sizeof(int16_t));
      } else {
        const int8_t *x = in + (iy * p->in_w + ix0 + kx0) * in_c;
        const int8_t *x_end = x + (kx1 - kx0) * in_c;
        if (kx0 > 0) memset(c, 0, (size_t)(kx0 * in_c) * sizeof(int16_t));
        c += kx0 * in_c;
        while (x != x_end) {
          const uint32_t xv = tb_read_u32(x);
          const int32_t v02 = tb_sxtab16(off2, xv);
          const int32_t v13 = tb_sxtab16_ror8(off2, xv);
          memcpy(c, &v02, 4);
          memcpy(c + 2, &v13, 4);
          x += 4;
          c += 4;
        }
        if (kx1 < kw) memset(c, 0, (size_t)((kw - kx1) * in_c) * sizeof(int16_t));
      }
    }
  } else {
    const int32_t k4 = (kh * row) & ~(int32_t)3;
    int32_t k = 0, kx, ci;
    for (ky = 0; ky < kh; ky++) {
      const int32_t iy = iy0 + ky;
      const int ok_y = iy >= 0 && iy < p->in_h;
      for (kx = 0; kx < kw; kx++) {
        const int ok = ok_y && kx >= kx0 && kx < kx1;
        const int8_t *x = ok ? in + (iy * p->in_w + ix0 + kx) * in_c : in;
        for (ci = 0; ci < in_c; ci++, k++) {
          const int32_t v = ok ? (int32_t)x[ci] + off : 0;
          const int32_t at = k < k4 ? ((k & ~(int32_t)3) | ((k & 1) << 1) | ((k >> 1) & 1)) : k;
          col[at] = (int16_t)v;
        }
      }
    }
  }
}

/*
 * Output channels [0, out_c) of two pixels (columns c0, c1, outputs o0, o1), two channels at a
 * time: 2 x 2 accumulators, SMLAD over pairs of int16 taps and SXTB16-unpacked weights. The
 * accumulators start at the bias (SMLAD adds modulo 2^32: wrap32(sum + bias) as the portable kernel).
 */
static void tb_conv2d_mm2(const int16_t *c0, const int16_t *c1, int8_t *o0, int8_t *o1, int32_t K, const tb_conv2d_params *p) {
  const int32_t out_c = p->out_c;
  const int32_t zp = p->out_zp;
  const int32_t lo = p->act_min - zp;
  const int32_t hi = p->act_max - zp;
  const int32_t k4 = K & ~(int32_t)3;
  const int8_t *wa = p->weights;
  const int32_t *bias = p->bias;
  const int32_t *mult = p->multipliers;
  const int32_t *shifts = p->shifts;
  int32_t oc, k;
  for (oc = 0; oc + 2 <= out_c; oc += 2) {
    const int8_t *wb = wa + K;
    const int16_t *x0 = c0;
    const int16_t *x1 = c1;
    const int16_t *x0_end = c0 + k4;
    int32_t a00 = bias[oc], a01 = a00, a10 = bias[oc + 1], a11 = a10;
#if defined(__OPTIMIZE__)
    /*
     * inline assembly over 8 taps a step (13 registers; gcc's own allocation spills): both
     * columns word aligned (K even), pixel 0's taps loaded twice (LDRD) instead of holding 4.
     */
    if ((K & 1) == 0 && K >= 8) {
      const int16_t *x0_end8 = c0 + (K & ~(int32_t)7);
      uint32_t wv, wu, xa, xb;
#define TB_CONV2D_ASM_STEP                          \
  "ldr %[wv], [%[w], %[K]]\n\t"                   \
  "ldrd %[xa], %[xb], [%[x0]]\n\t"                \
  "sxtb16 %[wu], %[wv]\n\t"                       \
  "smlad %[a10], %[wu], %[xa], %[a10]\n\t"        \
  "sxtb16 %[wv], %[wv], ror #8\n\t"               \
  "smlad %[a10], %[wv], %[xb], %[a10]\n\t"        \
  "ldrd %[xa], %[xb], [%[x1]], #8\n\t"            \
  "smlad %[a11], %[wv], %[xb], %[a11]\n\t"        \
  "ldr %[wv], [%[w]], #4\n\t"                     \
  "smlad %[a11], %[wu], %[xa], %[a11]\n\t"        \
  "sxtb16 %[wu], %[wv]\n\t"                       \
  "smlad %[a01], %[wu], %[xa], %[a01]\n\t"        \
  "sxtb16 %[wv], %[wv], ror #8\n\t"               \
  "smlad %[a01], %[wv], %[xb], %[a01]\n\t"        \
  "ldrd %[xa], %[xb], [%[x0]], #8\n\t"            \
  "smlad %[a00], %[wu], %[xa], %[a00]\n\t"        \
  "smlad %[a00], %[wv], %[xb], %[a00]\n\t"
      __asm__ volatile("1:\n\t" TB_CONV2D_ASM_STEP TB_CONV2D_ASM_STEP
                       "cmp %[x0], %[x_end]\n\t"
                       "bne 1b"
                       : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [x0] "+r"(x0), [x1] "+r"(x1), [w] "+r"(wa), [wv] "=&r"(wv), [wu] "=&r"(wu), [xa] "=&r"(xa), [xb] "=&r"(xb)
                       : [x_end] "r"(x0_end8), [K] "r"(K)
                       : "cc", "memory");
#undef TB_CONV2D_ASM_STEP
      wb = wa + K;
    }
#endif
    while (x0 != x0_end) {
      const uint32_t va = tb_read_u32(wa);
      const uint32_t vb = tb_read_u32(wb);
      const int32_t wa02 = tb_sxtb16(va), wa13 = tb_sxtb16_ror8(va);
      const int32_t wb02 = tb_sxtb16(vb), wb13 = tb_sxtb16_ror8(vb);
      const int32_t p002 = (int32_t)tb_read_u32(x0), p013 = (int32_t)tb_read_u32(x0 + 2);
      const int32_t p102 = (int32_t)tb_read_u32(x1), p113 = (int32_t)tb_read_u32(x1 + 2);
      wa += 4;
      wb += 4;
      x0 += 4;
      x1 += 4;
      a00 = __smlad(wa02, p002, a00);
      a01 = __smlad(wa02, p102, a01);
      a10 = __smlad(wb02, p002, a10);
      a11 = __smlad(wb02, p102, a11);
      a00 = __smlad(wa13, p013, a00);
      a01 = __smlad(wa13, p113, a01);
      a10 = __smlad(wb13, p013, a10);
      a11 = __smlad(wb13, p113, a11);
    }
    for (k = k4; k < K; k++) {
      const int32_t va = *wa++, vb = *wb++;
      const int32_t v0 = *x0++, v1 = *x1++;
      a00 = __smlabb(va, v0, a00);
      a01 = __smlabb(va, v1, a01);
      a10 = __smlabb(vb, v0, a10);
      a11 = __smlabb(vb, v1, a11);
    }
    wa = wb;
    if (shifts[oc] <= -2 && shifts[oc + 1] <= -2) {
      const int32_t ma = mult[oc], mb = mult[oc + 1];
      const int32_t ea = -shifts[oc] - 1, eb = -shifts[oc + 1] - 1;
      const int32_t ra = (int32_t)1 << (ea - 1), rb = (int32_t)1 << (eb - 1);
      o0[oc] = tb_requant_neg(a00, ma, ea, ra, zp, lo, hi);
      o1[oc] = tb_requant_neg(a01, ma, ea, ra, zp, lo, hi);
      o0[oc + 1] = tb_requant_neg(a10, mb, eb, rb, zp, lo, hi);
      o1[oc + 1] = tb_requant_neg(a11, mb, eb, rb, zp, lo, hi);
    } else {
      o0[oc] = tb_requant_fast(a00, mult[oc], shifts[oc], zp, lo, hi);
      o1[oc] = tb_requant_fast(a01, mult[oc], shifts[oc], zp, lo, hi);
      o0[oc + 1] = tb_requant_fast(a10, mult[oc + 1], shifts[oc + 1], zp, lo, hi);
      o1[oc + 1] = tb_requant_fast(a11, mult[oc + 1], shifts[oc + 1], zp, lo, hi);
    }
  }
  if (oc < out_c) {
    const int16_t *x0 = c0;
    const int16_t *x1 = c1;
    int32_t a00 = bias[oc], a01 = a00;
    for (k = 0; k < k4; k += 4) {
      const uint32_t va = tb_read_u32(wa);
      const int32_t wa02 = tb_sxtb16(va), wa13 = tb_sxtb16_ror8(va);
      wa += 4;
      a00 = __smlad(wa02, (int32_t)tb_read_u32(x0), a00);
      a01 = __smlad(wa02, (int32_t)tb_read_u32(x1), a01);
      a00 = __smlad(wa13, (int32_t)tb_read_u32(x0 + 2), a00);
      a01 = __smlad(wa13, (int32_t)tb_read_u32(x1 + 2), a01);
      x0 += 4;
      x1 += 4;
    }
    for (; k < K; k++) {
      const int32_t va = *wa++;
      a00 = __smlabb(va, *x0++, a00);
      a01 = __smlabb(va, *x1++, a01);
    }
    o0[oc] = tb_requant_fast(a00, mult[oc], shifts[oc], zp, lo, hi);
    o1[oc] = tb_requant_fast(a01, mult[oc], shifts[oc], zp, lo, hi);
  }
}

static void tb_conv2d_s8_dsp(const int8_t *in, int8_t *out, const tb_conv2d_params *p) {
  union {
    int16_t h[2 * TB_CONV2D_FAST_MAX_K];
    uint32_t align; /* LDRD of the columns */
  } col_u;
  int16_t *col = col_u.h;
  const int32_t K = p->kernel_h * p->kernel_w * p->in_c;
  const int32_t off = -p->in_zp;
  const int32_t off2 = tb_pack2(off);
  const int32_t n = p->out_h * p->out_w;
  const int32_t out_c = p->out_c;
  int32_t i, oy = 0, ox = 0;
  for (i = 0; i + 2 <= n; i += 2) {
    tb_conv2d_im2col(in, col, p, oy, ox, off, off2);
    if (++ox == p->out_w) {
      ox = 0;
      oy++;
    }
    tb_conv2d_im2col(in, col + K, p, oy, ox, off, off2);
    if (++ox == p->out_w) {
      ox = 0;
      oy++;
    }
    tb_conv2d_mm2(col, col + K, out + i * out_c, out + (i + 1) * out_c, K, p);
  }
  if (i < n) {
    /* the last pixel twice into the same outputs (same values) */
    tb_conv2d_im2col(in, col, p, oy, ox, off, off2);
    tb_conv2d_mm2(col, col, out + i * out_c, out + i * out_c, K, p);
  }
}
#endif

void tb_conv2d_s8(const int8_t *in, int8_t *out, const tb_conv2d_params *p) {
#if TB_DSP
  if (p->kernel_h * p->kernel_w * p->in_c <= TB_CONV2D_FAST_MAX_K) {
    tb_conv2d_s8_dsp(in, out, p);
    return;
  }
#endif
  tb_conv2d_s8_portable(in, out, p);
}
