/* tb_depthwise_conv2d.c - see tb_depthwise_conv2d.h. Bit-exact with src/ops/depthwise-conv2d.ts. */
#include "tb_depthwise_conv2d.h"

#include "tb_dsp.h"
#include "tb_fixed_point.h"
#include "tb_mve.h"

void tb_depthwise_conv2d_s8_portable(const int8_t *in, int8_t *out, const tb_depthwise_conv2d_params *p) {
  const int32_t ch = p->channels;
  const int32_t in_offset = -p->in_zp;
  int32_t oy, ox, c, ky, kx;
  for (oy = 0; oy < p->out_h; oy++) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ky0 = iy0 < 0 ? -iy0 : 0;
    const int32_t ky1 = p->kernel_h < p->in_h - iy0 ? p->kernel_h : p->in_h - iy0;
    for (ox = 0; ox < p->out_w; ox++) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
      const int32_t kx1 = p->kernel_w < p->in_w - ix0 ? p->kernel_w : p->in_w - ix0;
      for (c = 0; c < ch; c++) {
        int32_t acc = 0;
        for (ky = ky0; ky < ky1; ky++) {
          const int8_t *x = in + ((iy0 + ky) * p->in_w + ix0 + kx0) * ch + c;
          const int8_t *w = p->weights + (ky * p->kernel_w + kx0) * ch + c;
          for (kx = 0; kx < kx1 - kx0; kx++) {
            acc += (int32_t)w[kx * ch] * ((int32_t)x[kx * ch] + in_offset);
          }
        }
        acc = tb_wrap_s32((uint32_t)acc + (uint32_t)p->bias[c]);
        *out++ = tb_requantize_s8(acc, p->multipliers[c], (int)p->shifts[c], p->out_zp, p->act_min, p->act_max);
      }
    }
  }
}

#if TB_DSP && !TB_MVE
#if defined(__OPTIMIZE__)
/*
 * n output pixels whose 3x3 windows lie inside the input (x: the first window's top-left, step:
 * bytes between windows), all channels: 4 channels in inline assembly (12 registers, no spills,
 * 10 instructions a tap: one word of inputs and one of weights, SXTAB16 / SXTB16 both halves,
 * SMLABB / SMLATT), the remaining ones in C.
 */
static void tb_dw3x3_run(const int8_t *x, int8_t *out, int32_t n, int32_t step, const tb_depthwise_conv2d_params *p, int32_t off2) {
  const int32_t ch = p->channels;
  const int32_t c4 = ch & ~(int32_t)3;
  const int32_t x_row = p->in_w * ch;
  const int32_t off = -p->in_zp;
  const int32_t zp = p->out_zp;
  const int32_t lo = p->act_min - zp;
  const int32_t hi = p->act_max - zp;
  const int32_t *bias = p->bias;
  const int32_t *mult = p->multipliers;
  const int32_t *shifts = p->shifts;
  int32_t i, c;
  for (i = 0; i < n; i++) {
    for (c = 0; c < c4; c += 4) {
      int32_t a0 = bias[c], a1 = bias[c + 1], a2 = bias[c + 2], a3 = bias[c + 3];
      const int8_t *xr = x + c;
      const int8_t *wr = p->weights + c;
      uint32_t xv, wv, t1, t2;
#define TB_DW_ASM_TAP(XA, WA)                         \
  "ldr %[xv], " XA "\n\t"                             \
  "ldr %[wv], " WA "\n\t"                             \
  "sxtab16 %[t1], %[off2], %[xv]\n\t"                 \
  "sxtb16 %[t2], %[wv]\n\t"                           \
  "smlabb %[a0], %[t2], %[t1], %[a0]\n\t"             \
  "smlatt %[a2], %[t2], %[t1], %[a2]\n\t"             \
  "sxtab16 %[xv], %[off2], %[xv], ror #8\n\t"         \
  "sxtb16 %[wv], %[wv], ror #8\n\t"                   \
  "smlabb %[a1], %[wv], %[xv], %[a1]\n\t"             \
  "smlatt %[a3], %[wv], %[xv], %[a3]\n\t"
#define TB_DW_ASM_ROW TB_DW_ASM_TAP("[%[x]]", "[%[w]]") TB_DW_ASM_TAP("[%[x], %[ch]]", "[%[w], %[ch]]") TB_DW_ASM_TAP("[%[x], %[ch], lsl #1]", "[%[w], %[ch], lsl #1]")
#define TB_DW_ASM_NEXT                                                        \
  "ldr %[xv], %[xrow]\n\t"                                                   \
  "add %[x], %[x], %[xv]\n\t"                                                \
  "add %[w], %[w], %[ch], lsl #1\n\t"                                        \
  "add %[w], %[w], %[ch]\n\t"
      __asm__("" TB_DW_ASM_ROW TB_DW_ASM_NEXT TB_DW_ASM_ROW TB_DW_ASM_NEXT TB_DW_ASM_ROW
              : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(xr), [w] "+r"(wr), [xv] "=&r"(xv), [wv] "=&r"(wv), [t1] "=&r"(t1), [t2] "=&r"(t2)
              : [ch] "r"(ch), [xrow] "m"(x_row), [off2] "r"(off2)
              : "memory");
#undef TB_DW_ASM_NEXT
#undef TB_DW_ASM_ROW
#undef TB_DW_ASM_TAP
      out[c] = tb_requant_s(a0, mult[c], shifts[c], zp, lo, hi);
      out[c + 1] = tb_requant_s(a1, mult[c + 1], shifts[c + 1], zp, lo, hi);
      out[c + 2] = tb_requant_s(a2, mult[c + 2], shifts[c + 2], zp, lo, hi);
      out[c + 3] = tb_requant_s(a3, mult[c + 3], shifts[c + 3], zp, lo, hi);
    }
    for (; c < ch; c++) {
      const int8_t *xr = x + c;
      const int8_t *wr = p->weights + c;
      int32_t a0 = bias[c], ky, kx;
      for (ky = 0; ky < 3; ky++) {
        for (kx = 0; kx < 3; kx++) a0 = __smlabb((int32_t)wr[kx * ch], (int32_t)xr[kx * ch] + off, a0);
        xr += x_row;
        wr += 3 * ch;
      }
      out[c] = tb_requant_s(a0, mult[c], shifts[c], zp, lo, hi);
    }
    x += step;
    out += ch;
  }
}
#endif

/*
 * Four channels at a time: per tap one word of inputs -> [x0, x2] / [x1, x3] + in_offset (SXTAB16)
 * and one word of weights -> [w0, w2] / [w1, w3] (SXTB16); SMLABB / SMLATT into four accumulators
 * that start at the bias (modulo 2^32, as the portable kernel). Remaining channels one by one.
 */
static void tb_depthwise_conv2d_s8_dsp(const int8_t *in, int8_t *out, const tb_depthwise_conv2d_params *p) {
  const int32_t ch = p->channels;
  const int32_t c4 = ch & ~(int32_t)3;
  const int32_t off = -p->in_zp;
  const int32_t off2 = tb_pack2(off);
  const int32_t zp = p->out_zp;
  const int32_t lo = p->act_min - zp;
  const int32_t hi = p->act_max - zp;
  const int32_t kw = p->kernel_w;
  const int32_t *bias = p->bias;
  const int32_t *mult = p->multipliers;
  const int32_t *shifts = p->shifts;
  const int8_t *weights = p->weights;
#if defined(__OPTIMIZE__)
  const int run3 = kw == 3 && p->kernel_h == 3;
#endif
  int32_t oy, ox, c, ky, kx;
  for (oy = 0; oy < p->out_h; oy++) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ky0 = iy0 < 0 ? -iy0 : 0;
    const int32_t ky1 = p->kernel_h < p->in_h - iy0 ? p->kernel_h : p->in_h - iy0;
    for (ox = 0; ox < p->out_w; ox++) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
      const int32_t kx1 = kw < p->in_w - ix0 ? kw : p->in_w - ix0;
      const int32_t nx = kx1 - kx0;
#if defined(__OPTIMIZE__)
      if (run3 && ky0 == 0 && ky1 == 3 && kx0 == 0 && nx == 3) {
        /* this and the next pixels up to the right border: a run of full 3x3 windows */
        int32_t n = (p->in_w - 3 - ix0) / p->stride_w + 1;
        if (n > p->out_w - ox) n = p->out_w - ox;
        tb_dw3x3_run(in + (iy0 * p->in_w + ix0) * ch, out, n, p->stride_w * ch, p, off2);
        out += n * ch;
        ox += n - 1;
        continue;
      }
#endif
      const int8_t *x_base = in + ((iy0 + ky0) * p->in_w + ix0 + kx0) * ch;
      const int8_t *w_base = weights + (ky0 * kw + kx0) * ch;
      const int32_t x_row = p->in_w * ch;
      const int32_t w_row = kw * ch;
      for (c = 0; c < c4; c += 4) {
        int32_t a0 = bias[c], a1 = bias[c + 1], a2 = bias[c + 2], a3 = bias[c + 3];
        const int8_t *xr = x_base + c;
        const int8_t *wr = w_base + c;
        for (ky = ky0; ky < ky1; ky++) {
          const int8_t *x = xr;
          const int8_t *w = wr;
          if (nx == 3) {
            /* the full 3-wide row (the common case), unrolled */
            const uint32_t xa = tb_read_u32(x), xb = tb_read_u32(x + ch), xc = tb_read_u32(x + 2 * ch);
            const uint32_t wa = tb_read_u32(w), wb = tb_read_u32(w + ch), wc = tb_read_u32(w + 2 * ch);
            int32_t xx = tb_sxtab16(off2, xa), ww = tb_sxtb16(wa);
            a0 = __smlabb(ww, xx, a0);
            a2 = __smlatt(ww, xx, a2);
            xx = tb_sxtab16_ror8(off2, xa);
            ww = tb_sxtb16_ror8(wa);
            a1 = __smlabb(ww, xx, a1);
            a3 = __smlatt(ww, xx, a3);
            xx = tb_sxtab16(off2, xb);
            ww = tb_sxtb16(wb);
            a0 = __smlabb(ww, xx, a0);
            a2 = __smlatt(ww, xx, a2);
            xx = tb_sxtab16_ror8(off2, xb);
            ww = tb_sxtb16_ror8(wb);
            a1 = __smlabb(ww, xx, a1);
            a3 = __smlatt(ww, xx, a3);
            xx = tb_sxtab16(off2, xc);
            ww = tb_sxtb16(wc);
            a0 = __smlabb(ww, xx, a0);
            a2 = __smlatt(ww, xx, a2);
            xx = tb_sxtab16_ror8(off2, xc);
            ww = tb_sxtb16_ror8(wc);
            a1 = __smlabb(ww, xx, a1);
            a3 = __smlatt(ww, xx, a3);
            xr += x_row;
            wr += w_row;
            continue;
          }
          for (kx = 0; kx < nx; kx++) {
            const uint32_t xv = tb_read_u32(x);
            const uint32_t wv = tb_read_u32(w);
            const int32_t x02 = tb_sxtab16(off2, xv), x13 = tb_sxtab16_ror8(off2, xv);
            const int32_t w02 = tb_sxtb16(wv), w13 = tb_sxtb16_ror8(wv);
            x += ch;
            w += ch;
            a0 = __smlabb(w02, x02, a0);
            a2 = __smlatt(w02, x02, a2);
            a1 = __smlabb(w13, x13, a1);
            a3 = __smlatt(w13, x13, a3);
          }
          xr += x_row;
          wr += w_row;
        }
        if ((shifts[c] | shifts[c + 1] | shifts[c + 2] | shifts[c + 3]) < 0 && shifts[c] <= -2 && shifts[c + 1] <= -2 && shifts[c + 2] <= -2 && shifts[c + 3] <= -2) {
          const int32_t e0 = -shifts[c] - 1, e1 = -shifts[c + 1] - 1, e2 = -shifts[c + 2] - 1, e3 = -shifts[c + 3] - 1;
          out[c] = tb_requant_neg(a0, mult[c], e0, (int32_t)1 << (e0 - 1), zp, lo, hi);
          out[c + 1] = tb_requant_neg(a1, mult[c + 1], e1, (int32_t)1 << (e1 - 1), zp, lo, hi);
          out[c + 2] = tb_requant_neg(a2, mult[c + 2], e2, (int32_t)1 << (e2 - 1), zp, lo, hi);
          out[c + 3] = tb_requant_neg(a3, mult[c + 3], e3, (int32_t)1 << (e3 - 1), zp, lo, hi);
        } else {
          out[c] = tb_requant_fast(a0, mult[c], shifts[c], zp, lo, hi);
          out[c + 1] = tb_requant_fast(a1, mult[c + 1], shifts[c + 1], zp, lo, hi);
          out[c + 2] = tb_requant_fast(a2, mult[c + 2], shifts[c + 2], zp, lo, hi);
          out[c + 3] = tb_requant_fast(a3, mult[c + 3], shifts[c + 3], zp, lo, hi);
        }
      }
      for (; c < ch; c++) {
        int32_t a0 = bias[c];
        const int8_t *xr = x_base + c;
        const int8_t *wr = w_base + c;
        for (ky = ky0; ky < ky1; ky++) {
          for (kx = 0; kx < nx; kx++) a0 = __smlabb((int32_t)wr[kx * ch], (int32_t)xr[kx * ch] + off, a0);
          xr += x_row;
          wr += w_row;
        }
        out[c] = tb_requant_fast(a0, mult[c], shifts[c], zp, lo, hi);
      }
      out += ch;
    }
  }
}
#endif

#if TB_MVE
/*
 * MVE: eight channels at a time. Per in-bounds tap: inputs and weights loaded widened to int16
 * lanes (VLDRB.S16), the input offset added (x + off in [-255, 255]), VMULLB / VMULLT (int16 x
 * int16 -> int32 of the even / odd lanes) added into two int32x4 accumulators that start at the
 * bias (modulo 2^32, as the portable kernel; out-of-bounds taps skipped as there). Even lanes hold
 * channels c, c+2, c+4, c+6, odd lanes c+1, ..., c+7: bias / multipliers / shifts gathered and
 * outputs scattered with those offsets. The last channels % 8: predicated loads and stores.
 */
/* What the channel groups of every pixel share (copied from the params once: the int8 stores could alias them). */
typedef struct {
  int32_t ch, x_row, w_row, zp;
  int16_t off;
  const int32_t *bias, *mult, *shifts;
  int32x4_t act_min, act_max;
} tb_dw_mve_ctx;

static inline __attribute__((always_inline)) void tb_dw_mve_group(const int8_t *x, const int8_t *w, int8_t *out, int32_t c, int32_t nc, int32_t ny, int32_t nx, const tb_dw_mve_ctx *k) {
  const int32_t ch = k->ch;
  const uint32x4_t even = vidupq_n_u32(0u, 2);
  const uint32x4_t odd = vidupq_n_u32(1u, 2);
  const int full = nc == 8;
  const mve_pred16_t pr = vctp16q((uint32_t)nc);
  const mve_pred16_t pe = vctp32q((uint32_t)(nc + 1) >> 1);
  const mve_pred16_t po = vctp32q((uint32_t)nc >> 1);
  const int32_t *bias = k->bias + c;
  int32x4_t ae = full ? vldrwq_gather_shifted_offset_s32(bias, even) : vldrwq_gather_shifted_offset_z_s32(bias, even, pe);
  int32x4_t ao = full ? vldrwq_gather_shifted_offset_s32(bias, odd) : vldrwq_gather_shifted_offset_z_s32(bias, odd, po);
  int32_t ky, kx;
  for (ky = 0; ky < ny; ky++) {
    const int8_t *xp = x;
    const int8_t *wp = w;
    for (kx = 0; kx < nx; kx++) {
      const int16x8_t xv = vaddq_n_s16(full ? vldrbq_s16(xp) : vldrbq_z_s16(xp, pr), k->off);
      const int16x8_t wv = full ? vldrbq_s16(wp) : vldrbq_z_s16(wp, pr);
      ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
      ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
      xp += ch;
      wp += ch;
    }
    x += k->x_row;
    w += k->w_row;
  }
  {
    const int32x4_t zero = vdupq_n_s32(0);
    const int32_t *mult = k->mult + c;
    const int32_t *shifts = k->shifts + c;
    if (full) {
      const int32x4_t se = vldrwq_gather_shifted_offset_s32(shifts, even), so = vldrwq_gather_shifted_offset_s32(shifts, odd);
      vstrbq_scatter_offset_s32(out + c, even, tb_mve_requant(ae, vldrwq_gather_shifted_offset_s32(mult, even), vmaxq_s32(se, zero), vminq_s32(se, zero), k->zp, k->act_min, k->act_max));
      vstrbq_scatter_offset_s32(out + c, odd, tb_mve_requant(ao, vldrwq_gather_shifted_offset_s32(mult, odd), vmaxq_s32(so, zero), vminq_s32(so, zero), k->zp, k->act_min, k->act_max));
    } else {
      const int32x4_t se = vldrwq_gather_shifted_offset_z_s32(shifts, even, pe), so = vldrwq_gather_shifted_offset_z_s32(shifts, odd, po);
      vstrbq_scatter_offset_p_s32(out + c, even, tb_mve_requant(ae, vldrwq_gather_shifted_offset_z_s32(mult, even, pe), vmaxq_s32(se, zero), vminq_s32(se, zero), k->zp, k->act_min, k->act_max), pe);
      vstrbq_scatter_offset_p_s32(out + c, odd, tb_mve_requant(ao, vldrwq_gather_shifted_offset_z_s32(mult, odd, po), vmaxq_s32(so, zero), vminq_s32(so, zero), k->zp, k->act_min, k->act_max), po);
    }
  }
}

static void tb_depthwise_conv2d_s8_mve(const int8_t *in, int8_t *out, const tb_depthwise_conv2d_params *p) {
  const int32_t ch = p->channels;
  const int32_t c8 = ch & ~(int32_t)7;
  const int32_t kw = p->kernel_w, kh = p->kernel_h;
  const int32_t in_h = p->in_h, in_w = p->in_w, out_h = p->out_h, out_w = p->out_w;
  const int32_t sh = p->stride_h, sw = p->stride_w, pt = p->pad_top, pl = p->pad_left;
  const int8_t *weights = p->weights;
  tb_dw_mve_ctx k;
  int32_t oy, ox, c;
  k.ch = ch;
  k.x_row = in_w * ch;
  k.w_row = kw * ch;
  k.zp = p->out_zp;
  k.off = (int16_t)-p->in_zp;
  k.bias = p->bias;
  k.mult = p->multipliers;
  k.shifts = p->shifts;
  k.act_min = vdupq_n_s32(p->act_min);
  k.act_max = vdupq_n_s32(p->act_max);
  for (oy = 0; oy < out_h; oy++) {
    const int32_t iy0 = oy * sh - pt;
    const int32_t ky0 = iy0 < 0 ? -iy0 : 0;
    const int32_t ky1 = kh < in_h - iy0 ? kh : in_h - iy0;
    const int32_t ny = ky1 > ky0 ? ky1 - ky0 : 0;
    for (ox = 0; ox < out_w; ox++) {
      const int32_t ix0 = ox * sw - pl;
      const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
      const int32_t kx1 = kw < in_w - ix0 ? kw : in_w - ix0;
      const int32_t nx = kx1 > kx0 ? kx1 - kx0 : 0;
      const int8_t *x = in + ((iy0 + ky0) * in_w + ix0 + kx0) * ch;
      const int8_t *w = weights + (ky0 * kw + kx0) * ch;
      for (c = 0; c < c8; c += 8) tb_dw_mve_group(x + c, w + c, out, c, 8, ny, nx, &k);
      if (c < ch) tb_dw_mve_group(x + c, w + c, out, c, ch - c, ny, nx, &k);
      out += ch;
    }
  }
}
#endif

void tb_depthwise_conv2d_s8(const int8_t *in, int8_t *out, const tb_depthwise_conv2d_params *p) {
#if TB_MVE
  tb_depthwise_conv2d_s8_mve(in, out, p);
#elif TB_DSP
  tb_depthwise_conv2d_s8_dsp(in, out, p);
#else
  tb_depthwise_conv2d_s8_portable(in, out, p);
#endif
}
