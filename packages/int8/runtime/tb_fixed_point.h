/*
 * tb_fixed_point.h - integer arithmetic of the TFLite int8 convention, portable C99.
 *
 * Bit-exact with @tinyblocks/quantize (src/fixed-point.ts, src/lut.ts); tested against it.
 * No float, no malloc, header only (static inline). Clean under -std=c99 -pedantic -Wall -Wextra
 * -Wconversion -Werror and -fsanitize=address,undefined.
 *
 * Rounding is TFLite's / CMSIS-NN's DEFAULT ("double rounding"): a saturating rounding doubling
 * high multiply (nearest, ties toward +infinity), then a rounding right shift (nearest, ties away
 * from zero). The single-rounding variant (TFLITE_SINGLE_ROUNDING, CMSIS_NN_USE_SINGLE_ROUNDING)
 * differs by 1 LSB on a few percent of typical inputs and is deliberately not provided.
 * 64-bit operations: one 32x32->64 multiply (SMULL on Cortex-M3/M4/M7, __aeabi_lmul on M0).
 *
 * Implementation-defined behaviour relied on (true for gcc, clang and every Arm compiler):
 * `>>` of a negative int32_t is an arithmetic shift. No undefined behaviour: the one wrapping
 * operation (the left shift of multiply_by_quantized_multiplier) is done on uint32_t.
 */
#ifndef TB_FIXED_POINT_H
#define TB_FIXED_POINT_H

#include <stdint.h>

/* uint32_t -> int32_t modulo 2^32, without the implementation-defined conversion. */
static inline int32_t tb_wrap_s32(uint32_t u) {
  return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 0x80000000u) + INT32_MIN;
}

/*
 * gemmlowp SaturatingRoundingDoublingHighMul: high 32 bits of 2*a*b, rounded to nearest:
 * (a*b + (a*b >= 0 ? 2^30 : 1 - 2^30)) / 2^31 (C division truncates toward zero, so a negative
 * exact tie rounds toward zero: ties go toward +infinity).
 * The only overflow, a = b = INT32_MIN, saturates to INT32_MAX.
 */
static inline int32_t tb_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) {
    return INT32_MAX;
  }
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero; exponent in [0, 31]. */
static inline int32_t tb_rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u); /* <= 2^31 - 1: fits */
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/*
 * TFLite MultiplyByQuantizedMultiplier (default, double rounding): x * multiplier * 2^(shift - 31).
 * shift in [-31, 30]: left shift by max(shift, 0), right shift by max(-shift, 0). The left shift
 * wraps modulo 2^32 as TFLite's int32 code does on two's-complement hardware; exporters keep
 * x * 2^shift inside int32.
 */
static inline int32_t tb_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const int32_t shifted = tb_wrap_s32((uint32_t)x << left);
  return tb_rounding_divide_by_pot(tb_saturating_rounding_doubling_high_mul(shifted, multiplier), right);
}

static inline int32_t tb_clamp_s32(int32_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

static inline int8_t tb_saturate_s8(int32_t x) {
  return (int8_t)tb_clamp_s32(x, INT8_MIN, INT8_MAX);
}

static inline int32_t tb_saturate_s32(int64_t x) {
  return x < INT32_MIN ? INT32_MIN : (x > INT32_MAX ? INT32_MAX : (int32_t)x);
}

/*
 * Requantise an int32 accumulator to int8:
 * clamp(multiply_by_quantized_multiplier(acc) + out_zp, act_min, act_max).
 * The zero-point add is done in int64, so it cannot overflow.
 */
static inline int8_t tb_requantize_s8(int32_t acc, int32_t multiplier, int shift, int32_t out_zp,
                                      int32_t act_min, int32_t act_max) {
  const int64_t v = (int64_t)tb_multiply_by_quantized_multiplier(acc, multiplier, shift) + out_zp;
  return (int8_t)tb_clamp_s32(tb_saturate_s32(v), act_min, act_max);
}

/* 256-entry int8 lookup table: the entry for code q is table[q + 128] (see src/lut.ts). */
static inline int8_t tb_lut_s8(const int8_t table[256], int8_t q) {
  return table[(int32_t)q + 128];
}

#endif /* TB_FIXED_POINT_H */
