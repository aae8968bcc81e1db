/**
 * TEST ONLY (not exported by the package): independent BigInt references for the fixed-point
 * functions, written from the formulas rather than from src/fixed-point.ts, and fast-check
 * arbitraries biased towards int32 edge cases.
 */
import fc from 'fast-check';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const ONE = 1n;
export function refSrdhm(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? ONE << 30n : ONE - (ONE << 30n);
  return Number((ab + nudge) / (ONE << 31n)); // BigInt division truncates toward zero, as C
}
/** x / 2^e rounded half away from zero, via quotient and remainder. */
export function refRdpot(x: number, e: number): number {
  const d = ONE << BigInt(e);
  const X = BigInt(x);
  let q = X / d;
  const r = X % d;
  if (2n * (r < 0n ? -r : r) >= d) q += X < 0n ? -1n : 1n;
  return Number(q);
}
export function refMbqm(x: number, m: number, s: number): number {
  const left = BigInt(Math.max(s, 0));
  const shifted = Number(BigInt.asIntN(32, BigInt(x) << left)); // int32 wrap, as TFLite on hardware
  return refRdpot(refSrdhm(shifted, m), Math.max(-s, 0));
}
/** The single-rounding variant (TFLITE_SINGLE_ROUNDING) that we do NOT implement. */
export function refSingleRounding(x: number, m: number, s: number): number {
  const total = BigInt(31 - s);
  return Number((BigInt(x) * BigInt(m) + (ONE << (total - 1n))) >> total);
}

export const EDGES = [INT32_MIN, INT32_MIN + 1, -(2 ** 30), -65536, -65535, -2, -1, 0, 1, 2, 65535, 65536, 2 ** 30, INT32_MAX - 1, INT32_MAX];
export const int32 = fc.oneof(fc.constantFrom(...EDGES), fc.integer({ min: INT32_MIN, max: INT32_MAX }));
export const shiftArb = fc.integer({ min: -31, max: 30 });
