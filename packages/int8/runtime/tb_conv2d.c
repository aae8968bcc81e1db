/* tb_conv2d.c - see tb_conv2d.h. Bit-exact with packages/int8/src/ops/conv2d.ts. */
#include "tb_conv2d.h"

#include "tb_dsp.h"
#include "tb_fixed_point.h"
#include "tb_mve.h"

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

#if TB_DSP && !TB_MVE
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

#if TB_MVE
/*
 * MVE: im2col of 4 output pixels into raw int8 columns (col + q * kp, kp = K rounded up to 16;
 * padding taps = in_zp: with the bias term below they add w * (in_zp + off) = 0). Per output
 * channel, 16 taps a step: one weight vector, four column vectors, VMLADAVA into four accumulators
 * (VMLADAV writes even registers only: four plus the weight sum of VADDVA fit), the last K % 16
 * taps with the weights loaded predicated (0 past K, so the columns' bytes there add nothing);
 * acc = sum w * x + (bias + off * sum w) modulo 2^32; the 4 pixels requantised as one vector
 * (tb_mve_requant_n) and stored by a byte scatter (stride out_c).
 */
#define TB_CONV2D_MVE_KP ((TB_CONV2D_FAST_MAX_K + 15) & ~15)

/* Window geometry shared by the pixels: gather offsets of the taps when K <= 16 and they fit 8 bits. */
typedef struct {
  int32_t row;    /* kernel_w * in_c: bytes of a kernel row */
  int32_t x_row;  /* in_w * in_c */
  int gather;     /* windows inside the input: one 16-lane byte gather */
  uint8x16_t offsets;
} tb_conv2d_mve_geo;

/* Pixel (oy, ox)'s taps in OHWI order into col[0, K). */
static void tb_conv2d_mve_im2col(const int8_t *in, int8_t *col, const tb_conv2d_params *p, const tb_conv2d_mve_geo *g, int32_t oy, int32_t ox) {
  const int32_t in_c = p->in_c;
  const int32_t kw = p->kernel_w;
  const int32_t row = g->row;
  const int32_t iy0 = oy * p->stride_h - p->pad_top;
  const int32_t ix0 = ox * p->stride_w - p->pad_left;
  const int8_t zp = (int8_t)p->in_zp;
  int32_t kx0 = ix0 < 0 ? -ix0 : 0;
  int32_t kx1 = kw < p->in_w - ix0 ? kw : p->in_w - ix0;
  int32_t ky;
  if (iy0 >= 0 && iy0 + p->kernel_h <= p->in_h && kx0 == 0 && kx1 == kw) {
    /* the window inside the input */
    const int8_t *x = in + (iy0 * p->in_w + ix0) * in_c;
    if (g->gather) {
      vst1q_s8(col, vldrbq_gather_offset_s8(x, g->offsets));
      return;
    }
    for (ky = 0; ky < p->kernel_h; ky++, col += row, x += g->x_row) tb_mve_copy(col, x, row);
    return;
  }
  if (kx0 > kw) kx0 = kw;
  if (kx1 < kx0) kx1 = kx0;
  for (ky = 0; ky < p->kernel_h; ky++, col += row) {
    const int32_t iy = iy0 + ky;
    if (iy < 0 || iy >= p->in_h) {
      tb_mve_fill(col, zp, row);
      continue;
    }
    if (kx0 > 0) tb_mve_fill(col, zp, kx0 * in_c);
    tb_mve_copy(col + kx0 * in_c, in + (iy * p->in_w + ix0 + kx0) * in_c, (kx1 - kx0) * in_c);
    if (kx1 < kw) tb_mve_fill(col + kx1 * in_c, zp, (kw - kx1) * in_c);
  }
}

/* 16 taps of the 4 pixels: wv the weights. */
#define TB_CONV2D_MVE_STEP(wv_)                 \
  do {                                          \
    const int8x16_t wv = (wv_);                 \
    sw = vaddvaq_s8(sw, wv);                    \
    a0 = vmladavaq_s8(a0, wv, vld1q_s8(x0));    \
    a1 = vmladavaq_s8(a1, wv, vld1q_s8(x1));    \
    a2 = vmladavaq_s8(a2, wv, vld1q_s8(x2));    \
    a3 = vmladavaq_s8(a3, wv, vld1q_s8(x3));    \
  } while (0)

/*
 * All output channels of np (1..4) pixels, columns col + q * kp (missing pixels: column 0 again,
 * not stored). FULL: np == 4 (unpredicated stores).
 */
static inline __attribute__((always_inline)) void tb_conv2d_mve_mm4(const int8_t *col, int32_t kp, int32_t np, int8_t *out, int32_t K, const tb_conv2d_params *p, int full) {
  const int32_t out_c = p->out_c;
  const int32_t off = -p->in_zp;
  const int32_t zp = p->out_zp;
  const int32x4_t act_min = vdupq_n_s32(p->act_min);
  const int32x4_t act_max = vdupq_n_s32(p->act_max);
  const uint32x4_t scatter = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)out_c);
  const mve_pred16_t store = vctp32q((uint32_t)np);
  const int32_t n16 = K >> 4;
  const int32_t tail = K & 15;
  const mve_pred16_t tail_pr = vctp8q((uint32_t)(K <= 16 ? K : tail));
  const int8_t *c1 = np > 1 ? col + kp : col;
  const int8_t *c2 = np > 2 ? col + 2 * kp : col;
  const int8_t *c3 = np > 3 ? col + 3 * kp : col;
  const int8_t *w = p->weights;
  const int32_t *bias = p->bias;
  const int32_t *mult = p->multipliers;
  const int32_t *shifts = p->shifts;
  int32_t oc;
  if (K <= 16) {
    /* one (predicated) step: the four column vectors stay in registers across the channels */
    const int8x16_t x0 = vld1q_s8(col), x1 = vld1q_s8(c1), x2 = vld1q_s8(c2), x3 = vld1q_s8(c3);
    for (oc = 0; oc < out_c; oc++) {
      const int8x16_t wv = vldrbq_z_s8(w, tail_pr);
      const int32_t sw = vaddvq_s8(wv);
      const int32x4_t acc = tb_mve_vec4(vmladavq_s8(wv, x0), vmladavq_s8(wv, x1), vmladavq_s8(wv, x2), vmladavq_s8(wv, x3));
      const int32_t kb = tb_wrap_s32((uint32_t)bias[oc] + (uint32_t)off * (uint32_t)sw);
      const int32x4_t r = tb_mve_requant_n(vaddq_n_s32(acc, kb), mult[oc], shifts[oc], zp, act_min, act_max);
      w += K;
      if (full) {
        vstrbq_scatter_offset_s32(out + oc, scatter, r);
      } else {
        vstrbq_scatter_offset_p_s32(out + oc, scatter, r, store);
      }
    }
    return;
  }
  for (oc = 0; oc < out_c; oc++) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, sw = 0, j;
    const int8_t *x0 = col, *x1 = c1, *x2 = c2, *x3 = c3;
    for (j = 0; j < n16; j++) {
      TB_CONV2D_MVE_STEP(vld1q_s8(w));
      w += 16;
      x0 += 16;
      x1 += 16;
      x2 += 16;
      x3 += 16;
    }
    if (tail > 0) {
      TB_CONV2D_MVE_STEP(vldrbq_z_s8(w, tail_pr));
      w += tail;
    }
    {
      const int32_t kb = tb_wrap_s32((uint32_t)bias[oc] + (uint32_t)off * (uint32_t)sw);
      const int32x4_t r = tb_mve_requant_n(vaddq_n_s32(tb_mve_vec4(a0, a1, a2, a3), kb), mult[oc], shifts[oc], zp, act_min, act_max);
      if (full) {
        vstrbq_scatter_offset_s32(out + oc, scatter, r);
      } else {
        vstrbq_scatter_offset_p_s32(out + oc, scatter, r, store);
      }
    }
  }
}
#undef TB_CONV2D_MVE_STEP

static void tb_conv2d_s8_mve(const int8_t *in, int8_t *out, const tb_conv2d_params *p) {
  int8_t col[4 * TB_CONV2D_MVE_KP];
  uint8_t offsets[16];
  const int32_t K = p->kernel_h * p->kernel_w * p->in_c;
  const int32_t kp = (K + 15) & ~(int32_t)15;
  const int32_t n = p->out_h * p->out_w;
  const int32_t out_c = p->out_c;
  tb_conv2d_mve_geo g;
  int32_t i, q, oy = 0, ox = 0;
  g.row = p->kernel_w * p->in_c;
  g.x_row = p->in_w * p->in_c;
  g.gather = K <= 16 && (p->kernel_h - 1) * g.x_row + g.row <= 256;
  for (i = 0; i < 16; i++) {
    /* tap i = (ky, r): ky * x_row + r; lanes past K read the window's first byte (weights 0 there) */
    offsets[i] = (uint8_t)(g.gather && i < K ? (i / g.row) * g.x_row + i % g.row : 0);
  }
  g.offsets = vld1q_u8(offsets);
  tb_mve_fill(col, 0, 4 * kp); /* the bytes past K: read, multiplied by 0 */
  for (i = 0; i < n; i += 4) {
    const int32_t np = n - i < 4 ? n - i : 4;
    for (q = 0; q < np; q++) {
      tb_conv2d_mve_im2col(in, col + q * kp, p, &g, oy, ox);
      if (++ox == p->out_w) {
        ox = 0;
        oy++;
      }
    }
    if (np == 4) {
      tb_conv2d_mve_mm4(col, kp, 4, out + i * out_c, K, p, 1);
    } else {
      tb_conv2d_mve_mm4(col, kp, np, out + i * out_c, K, p, 0);
    }
  }
}
#endif

void tb_conv2d_s8(const int8_t *in, int8_t *out, const tb_conv2d_params *p) {
#if TB_MVE
  if (p->kernel_h * p->kernel_w * p->in_c <= TB_CONV2D_FAST_MAX_K) {
    tb_conv2d_s8_mve(in, out, p);
    return;
  }
#elif TB_DSP
  if (p->kernel_h * p->kernel_w * p->in_c <= TB_CONV2D_FAST_MAX_K) {
    tb_conv2d_s8_dsp(in, out, p);
    return;
  }
#endif
  tb_conv2d_s8_portable(in, out, p);
}
