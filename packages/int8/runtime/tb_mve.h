/*
 * tb_mve.h - helpers of the MVE (Helium) fast kernels (Armv8.1-M: Cortex-M55, M85), header only,
 * C99. Includes tb_dsp.h (TB_FAST_KERNELS, TB_DSP).
 *
 * TB_MVE is 1 when the target has integer MVE (__ARM_FEATURE_MVE & 1) and TB_FAST_KERNELS is on;
 * the fast kernels then take their MVE path (ACLE intrinsics of <arm_mve.h>) in preference to the
 * DSP one. -DTB_MVE=0 keeps the DSP path on an MVE target. Every path is bit-exact with the
 * portable kernels and the TypeScript ones: each accumulates the same int32 sums modulo 2^32
 *   sum w * (x + off) + bias = sum w * x + (off * sum w + bias)   (off = -in_zp)
 * (the right-hand form lets VMLADAV multiply raw int8 lanes; a padding tap set to x = in_zp adds
 * w * (in_zp + off) = 0, as a skipped one) and requantises as tb_requantize_s8 (tb_mve_requant).
 *
 * TB_KERNEL_PATH: "mve", "dsp" or "portable", the path the fast kernels take in this build.
 */
#ifndef TB_MVE_H
#define TB_MVE_H

#include <stdint.h>

#include "tb_dsp.h"
#include "tb_fixed_point.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define TB_HAS_MVE 1
#else
#define TB_HAS_MVE 0
#endif

#ifndef TB_MVE
#if TB_HAS_MVE && TB_FAST_KERNELS
#define TB_MVE 1
#else
#define TB_MVE 0
#endif
#endif

#if TB_MVE && !TB_HAS_MVE
#error "TB_MVE=1 needs a target with integer MVE (e.g. -mcpu=cortex-m55)"
#endif

#if TB_MVE
#define TB_KERNEL_PATH "mve"
#elif TB_DSP
#define TB_KERNEL_PATH "dsp"
#else
#define TB_KERNEL_PATH "portable"
#endif

#if TB_MVE
#include <arm_mve.h>

/*
 * tb_requantize_s8 on four lanes (acc: the int32 accumulators, bias included), every lane with
 * its own multiplier m (!= INT32_MIN) and shift split into sl = max(shift, 0), sr = min(shift, 0):
 *  - VSHL by sl wraps as tb_wrap_s32(x << left);
 *  - VQRDMULH is (2ab + 2^31) >> 32 = (ab + 2^30) >> 31, saturated: gemmlowp's
 *    SaturatingRoundingDoublingHighMul for every pair (see tb_dsp.h; a = b = INT32_MIN saturates
 *    in both);
 *  - RoundingDivideByPOT(x, e) (ties away from zero) = VRSHL(x + [x < 0 and e > 0], -e) (ties up):
 *    with r = x mod 2^e, both add 1 to floor(x / 2^e) iff r >= 2^(e-1) + [x < 0]; the -1 of a
 *    negative x is a saturating add (x = INT32_MIN: r = 0, both give -2^(31-e)). (x & sr) >> 31
 *    is -1 exactly when x < 0 and sr < 0.
 *  - clamp(saturate32(r + zp), act_min, act_max) = clamp(VQADD(r, zp), act_min, act_max).
 */
static inline int32x4_t tb_mve_requant(int32x4_t acc, int32x4_t m, int32x4_t sl, int32x4_t sr, int32_t zp, int32x4_t act_min, int32x4_t act_max) {
  int32x4_t x = vshlq_s32(acc, sl);
  x = vqrdmulhq_s32(x, m);
  x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, sr), 31));
  x = vrshlq_s32(x, sr);
  x = vqaddq_n_s32(x, zp);
  return vminq_s32(vmaxq_s32(x, act_min), act_max);
}

/* tb_mve_requant with one multiplier and shift for the four lanes (four pixels of one channel). */
static inline int32x4_t tb_mve_requant_n(int32x4_t acc, int32_t m, int32_t shift, int32_t zp, int32x4_t act_min, int32x4_t act_max) {
  const int32_t sr = shift < 0 ? shift : 0;
  int32x4_t x = acc;
  if (shift > 0) x = vshlq_r_s32(x, shift);
  x = vqrdmulhq_n_s32(x, m);
  if (sr < 0) {
    x = vqaddq_s32(x, vshrq_n_s32(x, 31));
    x = vrshlq_n_s32(x, sr);
  }
  x = vqaddq_n_s32(x, zp);
  return vminq_s32(vmaxq_s32(x, act_min), act_max);
}

/* Four int32 lanes [a0, a1, a2, a3] (two VMOVs of two lanes each; gcc has no intrinsic for them). */
static inline int32x4_t tb_mve_vec4(int32_t a0, int32_t a1, int32_t a2, int32_t a3) {
  int32x4_t v;
  __asm__("vmov %q0[2], %q0[0], %1, %3\n\tvmov %q0[3], %q0[1], %2, %4" : "=w"(v) : "r"(a0), "r"(a1), "r"(a2), "r"(a3));
  return v;
}

/* n bytes (n >= 0) from src to dst, 16 a step, tail predicated (no byte outside either range touched). */
static inline void tb_mve_copy(int8_t *dst, const int8_t *src, int32_t n) {
  while (n > 0) {
    const mve_pred16_t pr = vctp8q((uint32_t)n);
    vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
    src += 16;
    dst += 16;
    n -= 16;
  }
}

/* n bytes (n >= 0) of dst set to v. */
static inline void tb_mve_fill(int8_t *dst, int8_t v, int32_t n) {
  const int8x16_t vv = vdupq_n_s8(v);
  while (n > 0) {
    vstrbq_p_s8(dst, vv, vctp8q((uint32_t)n));
    dst += 16;
    n -= 16;
  }
}
#endif

#endif /* TB_MVE_H */
