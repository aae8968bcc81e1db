/**
 * Integer helpers of the normalisation kernels (evonorm_b0, evonorm_s0, polynorm), bit-exact with
 * runtime/tb_int_math.h. A "mantissa/exponent" pair (m, e) stands for `m * 2^(e - 31)` as in
 * TFLite's QuantizedMultiplier, with |m| in [2^30, 2^31) (or m = 0) but e NOT limited to
 * [-31, 30] (runtime products of a constant and a reciprocal square root leave that range).
 *
 *   isqrtU64(x)       floor(sqrt(x)), 0 <= x < 2^64 (C: the bit-by-bit method, 32 steps)
 *   normSqrt(w)       w in [1, 2^62) (0 counts as 1): j = the least j >= 0 with w * 4^j >= 2^60,
 *                     s = isqrtU64(w * 4^j) in [2^30, 2^31); sqrt(w) ~= s * 2^-j
 *   rsqrtQ31(w)       1/sqrt(w) as (m, e): (s, j) = normSqrt(w), q = floor(2^62 / s),
 *                     m = (q + 1) >> 1 (= round(2^61 / s), in (2^30, 2^31]), e = j - 30;
 *                     m = 2^31 becomes m = 2^30, e + 1. Relative error < 2^-29.
 *                     (C divides with a 32-bit restoring loop: no 64-bit division helper.)
 *   mulMant(a,ae,b,be) product of two pairs: m = SRDHM(a, b), e = ae + be; |m| < 2^30 -> m*2, e-1;
 *                     a or b zero -> (0, 0)
 *   mulExp(x,m,e,lim) round(x * m * 2^(e - 31)) clamped to [-lim, lim] (lim <= 2^30, |m| >= 2^30):
 *                     m = 0 or x = 0 -> 0;
 *                     e > 0:  |x| > INT32_MAX >> e (or e >= 31) -> sign(x*m) * lim (the true value
 *                             is >= 2^30 in magnitude), else SRDHM(x * 2^e, m);
 *                     e < -31 -> 0 (|value| < 1/2);
 *                     else RDBPOT(SRDHM(x, m), -e)   (TFLite's double rounding)
 * SRDHM / RDBPOT are fixed-point.ts's saturatingRoundingDoublingHighMul / roundingDivideByPOT.
 * BigInt is used once per channel / vector (64-bit radicands), never per element.
 *
 * splitReal (lowering only, float): a real as (m, e), any exponent, round-half-away mantissa.
 * Also here: C literal helpers (cU64, cI64, cI32) and the node-field checks these ops' validate
 * functions share (DataErrors naming the node and the field).
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { INT32_MAX, roundingDivideByPOT, saturatingRoundingDoublingHighMul } from '../fixed-point.js';

const TWO_30 = 2 ** 30;
const TWO_31 = 2 ** 31;
const B60 = 1n << 60n;
const B62 = 1n << 62n;
const B64 = 1n << 64n;

/** A value `m * 2^(e - 31)`. */
export interface Mant {
  m: number;
  e: number;
}

/** floor(sqrt(x)) for a BigInt x in [0, 2^64). */
export function isqrtU64(x: bigint): number {
  if (x < 0n || x >= B64) throw new ConfigError({ op: 'isqrtU64' }, 'x', 'an integer in [0, 2^64)', x.toString());
  let s = BigInt(Math.floor(Math.sqrt(Number(x))));
  while (s * s > x) s--;
  while ((s + 1n) * (s + 1n) <= x) s++;
  return Number(s);
}

/** Normalised square root: w in [1, 2^62) (0 -> 1, >= 2^62 -> 2^62 - 1); sqrt(w) ~= s * 2^-j. */
export function normSqrt(w: bigint): { s: number; j: number } {
  if (w < 1n) w = 1n;
  if (w >= B62) w = B62 - 1n;
  // a first guess of j from the bit length (the double may round up), then exact corrections
  let j = Math.max(0, Math.floor((60 - Math.floor(Math.log2(Number(w)))) / 2));
  let n = w << BigInt(2 * j);
  while (n >= B62 && j > 0) {
    j--;
    n >>= 2n;
  }
  while (n < B60) {
    j++;
    n <<= 2n;
  }
  return { s: isqrtU64(n), j };
}

/** 1/sqrt(w) as a mantissa/exponent pair (see the file comment). */
export function rsqrtQ31(w: bigint): Mant {
  const { s, j } = normSqrt(w);
  const q = B62 / BigInt(s);
  let m = Number((q + 1n) >> 1n);
  let e = j - 30;
  if (m === TWO_31) {
    m = TWO_30;
    e += 1;
  }
  return { m, e };
}

/** (a * 2^(ae-31)) * (b * 2^(be-31)) as a normalised pair. */
export function mulMant(a: number, ae: number, b: number, be: number): Mant {
  if (a === 0 || b === 0) return { m: 0, e: 0 };
  let m = saturatingRoundingDoublingHighMul(a, b);
  let e = ae + be;
  if (m < TWO_30 && m > -TWO_30) {
    m *= 2;
    e -= 1;
  }
  return { m, e };
}

/** round(x * m * 2^(e-31)) clamped to [-lim, lim]; x int32, |m| in [2^30, 2^31) or 0. */
export function mulExp(x: number, m: number, e: number, lim: number): number {
  if (m === 0 || x === 0) return 0;
  let v: number;
  if (e > 0) {
    if (e >= 31) return (x < 0) !== (m < 0) ? -lim : lim;
    const bound = INT32_MAX >> e;
    if (x > bound || x < -bound) return (x < 0) !== (m < 0) ? -lim : lim;
    v = saturatingRoundingDoublingHighMul(x * 2 ** e, m);
  } else if (e < -31) {
    return 0;
  } else {
    v = roundingDivideByPOT(saturatingRoundingDoublingHighMul(x, m), -e);
  }
  return v < -lim ? -lim : v > lim ? lim : v;
}

/**
 * LOWERING ONLY (float): a finite real as (m, e) with |m| in [2^30, 2^31), m carrying the sign,
 * `real ~= m * 2^(e - 31)` (mantissa rounded half away from zero); 0 -> (0, 0).
 */
export function splitReal(real: number): Mant {
  if (!Number.isFinite(real)) throw new ConfigError({ op: 'splitReal' }, 'real', 'a finite number', real);
  if (real === 0) return { m: 0, e: 0 };
  const a = Math.abs(real);
  let e = Math.floor(Math.log2(a)) + 1;
  let f = a / 2 ** e;
  while (f >= 1) f = a / 2 ** ++e;
  while (f < 0.5) f = a / 2 ** --e;
  let m = Math.round(f * TWO_31);
  if (m === TWO_31) {
    m = TWO_30;
    e += 1;
  }
  return { m: real < 0 ? -m : m, e };
}

/** The value of a pair (float, for tests and lowering). */
export function mantToReal(p: Mant): number {
  return p.m * 2 ** (p.e - 31);
}

/** C literal of a non-negative 64-bit integer held in a double (exact: the double is an integer). */
export function cU64(x: number): string {
  return `UINT64_C(${BigInt(x).toString()})`;
}

/** C literal of a signed 64-bit integer held in a double. */
export function cI64(x: number): string {
  return x < 0 ? `(-INT64_C(${BigInt(-x).toString()}))` : `INT64_C(${BigInt(x).toString()})`;
}

/** C literal of an int32 (INT32_MIN spelled without overflow). */
export function cI32(x: number): string {
  return x === -2147483648 ? '(-2147483647 - 1)' : String(x);
}

// ---------------------------------------------------------------- node-field checks (validate)

type TypedCtor = Int8ArrayConstructor | Int16ArrayConstructor | Int32ArrayConstructor;

/** DataError naming the node and the field. */
export function fieldError(node: { name: string }, field: string, expected: string, got: unknown): never {
  throw new DataError({ layer: node.name }, field, expected, got);
}

/** node.inputs / node.outputs have the given lengths. */
export function checkArity(node: { name: string; inputs: number[]; outputs: number[] }, inputs: number, outputs: number): void {
  if (node.inputs.length !== inputs) fieldError(node, 'inputs', `${inputs} tensor id(s)`, node.inputs);
  if (node.outputs.length !== outputs) fieldError(node, 'outputs', `${outputs} tensor id(s)`, node.outputs);
}

/** A typed array field of the given type and length, whose values lie in [lo, hi] when given. */
export function checkTyped(node: { name: string }, field: string, Ctor: TypedCtor, length: number, lo?: number, hi?: number): void {
  const v = (node as unknown as Record<string, unknown>)[field];
  if (!(v instanceof Ctor) || v.length !== length) {
    const got = ArrayBuffer.isView(v) ? `${v.constructor.name}(${(v as Int8Array).length})` : v;
    fieldError(node, field, `${Ctor.name}(${length})`, got);
  }
  if (lo === undefined || hi === undefined) return;
  for (let i = 0; i < length; i++) {
    const x = v[i]!;
    if (x < lo || x > hi) fieldError(node, `${field}[${i}]`, `an integer in [${lo}, ${hi}]`, x);
  }
}

/** An integer-valued number field in [lo, hi]. */
export function checkInt(node: { name: string }, field: string, lo: number, hi: number): number {
  const v = (node as unknown as Record<string, unknown>)[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) fieldError(node, field, `an integer in [${lo}, ${hi}]`, v);
  return v;
}

/** A normalised multiplier mantissa: 0 or |m| in [2^30, 2^31). */
export function isMantissa(m: number): boolean {
  return m === 0 || (Math.abs(m) >= TWO_30 && Math.abs(m) < TWO_31);
}

/** Smallest l with 2^l >= n. */
export function ceilLog2(n: number): number {
  let l = 0;
  while (2 ** l < n) l++;
  return l;
}

/**
 * One [H, W, C] input and an output of the same shape (the EvoNorm ops): checks arity and shapes
 * when `check` is set, and returns H*W, C and the input zero point.
 */
export function hwcDims(
  node: { name: string; inputs: number[]; outputs: number[] },
  graph: { tensors: ReadonlyArray<{ shape: number[]; zeroPoint: number }> },
  check = false,
): { hw: number; c: number; inZp: number } {
  if (check) checkArity(node, 1, 1);
  const inT = graph.tensors[node.inputs[0]!]!;
  if (check) {
    const outT = graph.tensors[node.outputs[0]!]!;
    if (inT.shape.length !== 3) fieldError(node, 'input shape', '[H, W, C]', inT.shape);
    if (outT.shape.join() !== inT.shape.join()) fieldError(node, 'output shape', `the input shape [${inT.shape.join(', ')}]`, outT.shape);
  }
  const [h, w, c] = inT.shape as [number, number, number];
  return { hw: h * w, c, inZp: inT.zeroPoint };
}
