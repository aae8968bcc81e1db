/**
 * Integer fixed-point arithmetic of the TFLite int8 convention (gemmlowp / CMSIS-NN default).
 *
 * Every value here is an int32 held in a plain JS number. Products of two int32 need 62 bits, more
 * than a double holds exactly, so the doubling high multiply splits the multiplier into 16-bit
 * halves: every partial product stays below 2^53 and the result is exact. (BigInt would be exact
 * too but allocates on every call; the tests check this code against a BigInt reference.) The
 * rounding lives in two private functions, `srdhm` and `rdpot`; the exported scalar functions and
 * the per-channel `requantizeWith` of the kernels' hot loops all go through them.
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

const TWO_15 = 32768;
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

// ---------------------------------------------------------------- the rounding (one copy)

/**
 * trunc((x * m + nudge) / 2^31), nudge = 2^30 for x * m >= 0 and 1 - 2^30 otherwise, for a
 * multiplier m = mHi * 2^16 + mLo in [0, 2^31] and |x| <= 2^31: exact. x * m = A * 2^16 + B with
 * A = x * mHi (|A| <= 2^46) and B = x * mLo (|B| < 2^47); A = Ah * 2^15 + Al (0 <= Al < 2^15), so
 * x * m + nudge = Ah * 2^31 + R with R = Al * 2^16 + B + nudge exact, and the truncating division
 * is Ah + floor(R / 2^31) (x * m >= 0) or Ah + ceil(R / 2^31) (x * m < 0). May return -0.
 */
function srdhm(x: number, mHi: number, mLo: number): number {
  const a = x * mHi;
  const ah = Math.floor(a / TWO_15);
  const negative = x < 0 && (mHi | mLo) !== 0;
  const r = (a - ah * TWO_15) * TWO_16 + x * mLo + (negative ? 1 - TWO_30 : TWO_30);
  return ah + (negative ? Math.ceil(r / TWO_31) : Math.floor(r / TWO_31));
}

/** x / 2^right rounded half away from zero, for an int32 x, right in [0, 31], mask = 2^right - 1. */
function rdpot(x: number, right: number, mask: number): number {
  return (x >> right) + ((x & mask) > (mask >> 1) + (x < 0 ? 1 : 0) ? 1 : 0);
}

/** 2^e - 1 for e in [0, 31] (no Math.pow). */
function lowMask(e: number): number {
  return 0x7fffffff >>> (31 - e);
}

/**
 * gemmlowp's SaturatingRoundingDoublingHighMul: the high 32 bits of 2*a*b rounded to nearest,
 * `trunc((a*b + (a*b >= 0 ? 2^30 : 1 - 2^30)) / 2^31)`; the one overflow case a = b = INT32_MIN
 * saturates to INT32_MAX. Note the `1 -`: a negative exact tie rounds toward zero (-0.5 -> 0,
 * -1.5 -> -1), a positive one up (0.5 -> 1), i.e. ties go toward +infinity. Kept as is: bit-exact.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (b < 0) {
    if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
    return srdhm(-a, -b >>> 16, -b & 0xffff) | 0; // the same product; -a may be 2^31, -b <= 2^31
  }
  return srdhm(a, b >>> 16, b & 0xffff) | 0; // | 0: never -0
}

/**
 * gemmlowp's RoundingDivideByPOT: `x / 2^exponent` rounded half away from zero, exponent in
 * [0, 31] (arithmetic shift plus a remainder test, no overflow).
 */
export function roundingDivideByPOT(x: number, exponent: number): number {
  if (!(exponent >= 0 && exponent <= 31)) {
    throw new ConfigError({ op: 'roundingDivideByPOT' }, 'exponent', 'an integer in [0, 31]', exponent);
  }
  const e = exponent | 0;
  return rdpot(x, e, lowMask(e));
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
  const right = shift > 0 ? 0 : -shift | 0;
  return rdpot(saturatingRoundingDoublingHighMul(x << (shift > 0 ? shift : 0), multiplier), right, lowMask(right));
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

/**
 * Per-channel constants of `requantizeWith`, computed once per kernel run: the multiplier's 16-bit
 * halves, the shifts split into left and right, and the right shift's remainder mask.
 */
export interface ChannelRequant {
  /** multiplier = mHi * 2^16 + mLo. */
  mHi: Int32Array;
  mLo: Int32Array;
  left: Int32Array;
  right: Int32Array;
  /** 2^right - 1. */
  mask: Int32Array;
}

/**
 * `channelRequant(multipliers, shifts)` for `requantizeWith`: multipliers in [0, 2^31 - 1] and
 * shifts in [-31, 30] (what the ops' validate accepts; ConfigError otherwise).
 */
export function channelRequant(multipliers: Int32Array, shifts: Int32Array): ChannelRequant {
  const n = multipliers.length;
  const r: ChannelRequant = { mHi: new Int32Array(n), mLo: new Int32Array(n), left: new Int32Array(n), right: new Int32Array(n), mask: new Int32Array(n) };
  for (let c = 0; c < n; c++) {
    const m = multipliers[c]!;
    const s = shifts[c]!;
    if (!(m >= 0)) throw new ConfigError({ op: 'channelRequant' }, `multipliers[${c}]`, 'an integer in [0, 2^31 - 1]', m);
    if (!(s >= -31 && s <= 30)) throw new ConfigError({ op: 'channelRequant' }, `shifts[${c}]`, 'an integer in [-31, 30]', s);
    r.mHi[c] = m >>> 16;
    r.mLo[c] = m & 0xffff;
    r.left[c] = s > 0 ? s : 0;
    r.right[c] = s > 0 ? 0 : -s;
    r.mask[c] = lowMask(r.right[c]!);
  }
  return r;
}

/**
 * `requantize(acc, multipliers[c], shifts[c], outZp, actMin, actMax)` for channel c of a
 * `channelRequant`: the same integers without the per-call checks and shift splitting, for the
 * kernels' hot loops.
 */
export function requantizeWith(acc: number, q: ChannelRequant, c: number, outZp: number, actMin: number, actMax: number): number {
  const y = rdpot(srdhm(acc << q.left[c]!, q.mHi[c]!, q.mLo[c]!), q.right[c]!, q.mask[c]!) + outZp;
  return y < actMin ? actMin : y > actMax ? actMax : y;
}
