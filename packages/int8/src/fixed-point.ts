/**
 * Integer fixed-point arithmetic of the TFLite int8 convention (gemmlowp / CMSIS-NN default).
 *
 * Every value here is an int32 held in a plain JS number. Products of two int32 need 62 bits, more
 * than a double holds exactly, so `saturatingRoundingDoublingHighMul` splits the magnitudes into
 * 16-bit halves: every partial product stays below 2^53 and the result is exact. (BigInt would be
 * exact too but allocates on every call; the tests check this code against a BigInt reference.)
 *
 * Rounding is PINNED to TFLite's default ("double rounding"):
 *   multiplyByQuantizedMultiplier(x, M, s) =
 *     roundingDivideByPOT(saturatingRoundingDoublingHighMul(x * 2^max(s,0), M), max(-s,0))
 * i.e. round once to 31 fractional bits (nearest; ties toward +infinity, see below), then round
 * again by the right shift (nearest, ties away from zero). TFLite's TFLITE_SINGLE_ROUNDING build (and CMSIS-NN's
 * CMSIS_NN_USE_SINGLE_ROUNDING) instead computes `(x * M + 2^(30-s)) >> (31-s)` in int64: one
 * rounding, half towards +infinity. The two differ by 1 LSB on a few percent of typical inputs
 * (more when the right shift is small: negative ties); we do NOT implement it. runtime/tb_fixed_point.h is the same arithmetic in C99.
 */
import { ConfigError } from '@tinyblocks/core/base';

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
export const INT8_MIN = -128;
export const INT8_MAX = 127;

const TWO_16 = 65536;
const TWO_30 = 1073741824;
const TWO_31 = 2147483648;

/** A real multiplier as TFLite stores it: `real ≈ multiplier * 2^(shift - 31)`. */
export interface QuantizedMultiplier {
  /** Q31 mantissa in [2^30, 2^31 - 1], or 0 for a zero (or flushed tiny) multiplier. */
  multiplier: number;
  /** Power-of-two exponent in [-31, 30]; > 0 means a left shift. */
  shift: number;
}

/** Round half away from zero, as C's `lround` / `std::round` (TfLiteRound). */
export function roundHalfAway(x: number): number {
  return x < 0 ? 0 - Math.round(-x) : Math.round(x); // 0 - 0 is +0, never -0
}

/** frexp for a finite x > 0: `x = m * 2^e` with m in [0.5, 1). Exact (scaling by 2^k is exact). */
function frexp(x: number): { m: number; e: number } {
  let e = Math.floor(Math.log2(x)) + 1;
  let m = x / 2 ** e;
  while (m >= 1) m = x / 2 ** ++e;
  while (m < 0.5) m = x / 2 ** --e;
  return { m, e };
}

/**
 * TFLite's QuantizeMultiplier: frexp, round the mantissa * 2^31 half away from zero; if it rounds
 * to 2^31, halve it and add 1 to the shift. 0 -> {0, 0}; multipliers below ~2^-32 (shift < -31)
 * flush to {0, 0} as in TFLite. Negative, non-finite, or >= 2^30 (shift > 30) -> ConfigError.
 */
export function quantizeMultiplier(real: number): QuantizedMultiplier {
  const where = { op: 'quantizeMultiplier' };
  if (typeof real !== 'number' || !Number.isFinite(real) || real < 0) {
    throw new ConfigError(where, 'real', 'a finite number >= 0', real);
  }
  if (real === 0) return { multiplier: 0, shift: 0 };
  const { m, e } = frexp(real);
  let q = Math.round(m * TWO_31); // m > 0: Math.round is half away from zero here
  let shift = e;
  if (q === TWO_31) {
    q /= 2;
    shift += 1;
  }
  if (shift > 30) throw new ConfigError(where, 'real', 'a multiplier < 2^30 (shift <= 30)', real);
  if (shift < -31) return { multiplier: 0, shift: 0 };
  return { multiplier: q, shift };
}

/** The real value a quantized multiplier stands for: `multiplier * 2^(shift - 31)`. */
export function multiplierToReal(m: QuantizedMultiplier): number {
  return m.multiplier * 2 ** (m.shift - 31);
}

/**
 * gemmlowp's SaturatingRoundingDoublingHighMul: the high 32 bits of 2*a*b rounded to nearest,
 * `trunc((a*b + (a*b >= 0 ? 2^30 : 1 - 2^30)) / 2^31)`; the one overflow case a = b = INT32_MIN
 * saturates to INT32_MAX. Note the `1 -`: a negative exact tie rounds toward zero (-0.5 -> 0,
 * -1.5 -> -1), a positive one up (0.5 -> 1), i.e. ties go toward +infinity. Kept as is: bit-exact.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const negative = a < 0 !== b < 0;
  const ua = a < 0 ? -a : a; // magnitudes <= 2^31, exact
  const ub = b < 0 ? -b : b;
  const ah = Math.floor(ua / TWO_16);
  const al = ua - ah * TWO_16;
  const bh = Math.floor(ub / TWO_16);
  const bl = ub - bh * TWO_16;
  // |a*b| = hh * 2^32 + mid * 2^16 + ll, each part exact (< 2^33)
  const hh = ah * bh;
  const mid = ah * bl + al * bh;
  const ll = al * bl;
  const midHi = Math.floor(mid / TWO_16);
  // For a*b < 0 the nudge 1 - 2^30 and truncation toward zero equal, on the magnitude,
  // floor((|ab| + 2^30 - 1) / 2^31), negated.
  const low = ll + (mid - midHi * TWO_16) * TWO_16 + (negative ? TWO_30 - 1 : TWO_30); // < 2^34
  const r = 2 * (hh + midHi) + Math.floor(low / TWO_31);
  return negative ? -r | 0 : r;
}

/**
 * gemmlowp's RoundingDivideByPOT: `x / 2^exponent` rounded half away from zero, exponent in
 * [0, 31] (arithmetic shift plus a remainder test, no overflow).
 */
export function roundingDivideByPOT(x: number, exponent: number): number {
  if (!(exponent >= 0 && exponent <= 31)) {
    throw new ConfigError({ op: 'roundingDivideByPOT' }, 'exponent', 'an integer in [0, 31]', exponent);
  }
  const mask = 2 ** exponent - 1; // fits int32 for exponent <= 31
  const remainder = x & mask;
  const threshold = (mask >>> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/**
 * TFLite's MultiplyByQuantizedMultiplier (double rounding, the default):
 * left shift by max(shift, 0), SRDHM by the multiplier, rounding right shift by max(-shift, 0).
 * shift in [-31, 30]. The left shift wraps modulo 2^32 like TFLite's int32 code on two's-complement
 * hardware: an exporter must keep `x * 2^shift` inside int32 (it always is for multipliers < 1).
 */
export function multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
  if (!(shift >= -31 && shift <= 30)) {
    throw new ConfigError({ op: 'multiplyByQuantizedMultiplier' }, 'shift', 'an integer in [-31, 30]', shift);
  }
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(x << left, multiplier), right);
}

/** Clamp an integer to [lo, hi]. */
export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Saturate to int8 [-128, 127]. */
export function saturateInt8(x: number): number {
  return x < INT8_MIN ? INT8_MIN : x > INT8_MAX ? INT8_MAX : x;
}

/** Saturate to int32. */
export function saturateInt32(x: number): number {
  return x < INT32_MIN ? INT32_MIN : x > INT32_MAX ? INT32_MAX : x;
}

/**
 * The requantisation every int8 kernel ends with: int32 accumulator -> int8 output,
 * `clamp(multiplyByQuantizedMultiplier(acc, multiplier, shift) + outZp, actMin, actMax)`.
 * The zero-point add is exact (int64 in C), so it never wraps.
 */
export function requantize(
  acc: number,
  multiplier: number,
  shift: number,
  outZp: number,
  actMin = INT8_MIN,
  actMax = INT8_MAX,
): number {
  return clamp(multiplyByQuantizedMultiplier(acc, multiplier, shift) + outZp, actMin, actMax);
}
