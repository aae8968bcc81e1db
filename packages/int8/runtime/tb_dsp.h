/*
 * tb_dsp.h - helpers of the fast kernels (tb_conv2d_s8_fast, tb_depthwise_conv2d_s8_fast,
 * tb_dense_s8_fast), header only, C99.
 *
 * TB_DSP is 1 when the target has the Armv7E-M DSP extension (__ARM_FEATURE_DSP: Cortex-M4, M7,
 * M33/M35P/M55 with DSP) and TB_FAST_KERNELS is on (below): the fast kernels then use SXTB16 / SXTAB16 / SMLAD / SMLABB / SMLATT
 * (ACLE intrinsics of <arm_acle.h>, plus SXTB16/SXTAB16 with ROR #8 in inline assembly, which
 * gcc does not fold from a rotate). Everywhere else TB_DSP is 0 and the fast kernels call the
 * portable ones. Both paths are bit-exact with each other and with the TypeScript kernels.
 *
 * tb_requant_fast: the requantisation of tb_fixed_point.h (tb_requantize_s8) in fewer
 * instructions, bit-exact for every multiplier except INT32_MIN (validate keeps multipliers >= 0):
 *  - SaturatingRoundingDoublingHighMul(a, b) = (a*b + 2^30) >> 31 (arithmetic shift). For a*b >= 0
 *    this is gemmlowp's formula; for a*b = -n < 0, gemmlowp gives -floor((n + 2^30 - 1) / 2^31)
 *    = -ceil((n - 2^30) / 2^31) = floor((2^30 - n) / 2^31), the same value (CMSIS-NN's
 *    arm_nn_doubling_high_mult_no_sat relies on it too). Only a = b = INT32_MIN differs.
 *  - clamp(saturate32(r + zp), act_min, act_max) = clamp(r, act_min - zp, act_max - zp) + zp
 *    (no 64-bit add).
 */
#ifndef TB_DSP_H
#define TB_DSP_H

#include <stdint.h>
#include <string.h>

#include "tb_fixed_point.h"

/*
 * TB_FAST_KERNELS: the DSP paths cost about 4 KB more code for 2-4x fewer instructions. A build
 * optimised for size (-Os: __OPTIMIZE_SIZE__) keeps the portable kernels unless it defines
 * TB_FAST_KERNELS=1; -DTB_FAST_KERNELS=0 forces the portable kernels at any level.
 */
#ifndef TB_FAST_KERNELS
#if defined(__OPTIMIZE_SIZE__)
#define TB_FAST_KERNELS 0
#else
#define TB_FAST_KERNELS 1
#endif
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && TB_FAST_KERNELS
#define TB_DSP 1
#include <arm_acle.h>
#else
#define TB_DSP 0
#endif

/* x * m * 2^(shift - 31) rounded as tb_multiply_by_quantized_multiplier; m != INT32_MIN. */
static inline int32_t tb_mbqm_fast(int32_t x, int32_t m, int32_t shift) {
  int32_t e = 0, h, mask;
  if (shift > 0) {
    x = tb_wrap_s32((uint32_t)x << shift);
  } else {
    e = -shift;
  }
  h = (int32_t)(((int64_t)x * m + ((int64_t)1 << 30)) >> 31);
  mask = (int32_t)(((uint32_t)1 << e) - 1u);
  /* threshold (mask >> 1) + (h < 0): h >> 31 is -1 for h < 0 */
  return (h >> e) + ((h & mask) > (mask >> 1) - (h >> 31) ? 1 : 0);
}

/* tb_requantize_s8(acc, m, shift, zp, act_min, act_max) with lo = act_min - zp, hi = act_max - zp. */
static inline int8_t tb_requant_fast(int32_t acc, int32_t m, int32_t shift, int32_t zp, int32_t lo, int32_t hi) {
  int32_t r = tb_mbqm_fast(acc, m, shift);
  r = r < lo ? lo : r;
  r = r > hi ? hi : r;
  return (int8_t)(r + zp);
}

/*
 * tb_mbqm_neg: tb_multiply_by_quantized_multiplier for shift <= -2 (e = -shift in [2, 31]) in one
 * SMLAL, with e1 = e - 1 and rnd = 2^(e - 2) precomputed per channel; m != INT32_MIN.
 * With P = x * m and h = (P + 2^30) >> 31 (tb_mbqm_fast), the rounding divide is
 * floor((h + 2^(e-1) - [h < 0]) / 2^e) = floor((P + 2^30 + 2^(30+e) - [h < 0] * 2^31) / 2^(31+e)).
 * [h < 0] may be replaced by n = [(x ^ m) < 0]: they differ only for P in [-2^30, 0], where both
 * give 0. So with s = P + 2^30 - n * 2^31 (SMLAL onto lo = 2^30 | n << 31, hi = -n), the result is
 * (hi(s) + 2^(e-2)) >> (e - 1) (2^(30+e) is a multiple of 2^32; |hi(s)| <= 2^30 + 1: no overflow).
 */
static inline int32_t tb_mbqm_neg(int32_t x, int32_t m, int32_t e1, int32_t rnd) {
  int32_t hi = (x ^ m) >> 31;
#if TB_DSP && defined(__OPTIMIZE__)
  uint32_t lo = 0x40000000u | ((uint32_t)hi << 31);
  __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x), "r"(m));
#else
  const int64_t s = (int64_t)x * m + (hi != 0 ? -((int64_t)1 << 30) : ((int64_t)1 << 30));
  hi = (int32_t)(s >> 32);
#endif
  return (hi + rnd) >> e1;
}

/* tb_requant_fast for shift <= -2 (e1 = -shift - 1, rnd = 1 << (-shift - 2)). */
static inline int8_t tb_requant_neg(int32_t acc, int32_t m, int32_t e1, int32_t rnd, int32_t zp, int32_t lo, int32_t hi) {
  int32_t r = tb_mbqm_neg(acc, m, e1, rnd);
  r = r < lo ? lo : r;
  r = r > hi ? hi : r;
  return (int8_t)(r + zp);
}

/* tb_requant_fast, through tb_requant_neg when shift <= -2. */
static inline int8_t tb_requant_s(int32_t acc, int32_t m, int32_t shift, int32_t zp, int32_t lo, int32_t hi) {
  if (shift <= -2) {
    const int32_t e1 = -shift - 1;
    return tb_requant_neg(acc, m, e1, (int32_t)1 << (e1 - 1), zp, lo, hi);
  }
  return tb_requant_fast(acc, m, shift, zp, lo, hi);
}

/* 4 bytes from any address (an unaligned LDR on Cortex-M3 and later). */
static inline uint32_t tb_read_u32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

#if TB_DSP
/* [b0, b2] sign-extended to two int16 halves (b0 in the low half). */
static inline int32_t tb_sxtb16(uint32_t x) {
  return __sxtb16((int8x4_t)x);
}
/* [b1, b3] sign-extended (SXTB16 with ROR #8). */
static inline int32_t tb_sxtb16_ror8(uint32_t x) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
/* [b0 + off, b2 + off] (off = the input offset in both halves). */
static inline int32_t tb_sxtab16(int32_t off2, uint32_t x) {
  return __sxtab16(off2, (int8x4_t)x);
}
/* [b1 + off, b3 + off]. */
static inline int32_t tb_sxtab16_ror8(int32_t off2, uint32_t x) {
  int32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(off2), "r"(x));
  return r;
}
/* v in both int16 halves (v in [-32768, 32767]). */
static inline int32_t tb_pack2(int32_t v) {
  const uint32_t h = (uint32_t)v & 0xffffu;
  return tb_wrap_s32(h | (h << 16));
}
#endif

#endif /* TB_DSP_H */
