/**
 * polynorm: PolyNorm (PolyCom, blocks.md) over the last axis, [..., D] -> [..., D], in place allowed:
 *   y = w0*norm(x^3) + w1*norm(x^2) + w2*norm(x) + b,  norm(z) = z / sqrt(mean(z^2) + eps)
 * (w0 multiplies the HIGHEST power.) With x = s*u: norm(x^k) = u^k / sqrt(mean(u^2k) + eps/s^2k).
 *
 * Integer semantics. u = q - inZp (|u| <= 255), D <= 4096; per row (vector of D values):
 *   S1 = Σ u², S2 = Σ u⁴, S3 = Σ u⁶                    (uint32 < 2^28, uint64 < 2^44, < 2^60)
 *   for k = 1, 2, 3 (array index k-1), g = epsShift[k-1], E = epsQ[k-1]:
 *     fS = the largest even number in [0, 32] with S_k * 2^fS < 2^60;  f = min(g, fS)
 *     W  = (f >= 0 ? S_k << f : S_k >> -f) + (E >> (g - f))     (~ (S_k + D*eps/s^2k) * 2^f, < 2^61)
 *     (rm, re) = rsqrtQ31(W)                                    (int-math.ts)
 *     (m_k, e_k) = mulMant(mult[k-1], exp[k-1], rm, re + f/2)   (w/out.scale * u^k-scale, Q10 codes)
 *   per element: u2 = u*u, u3 = u2*u
 *     acc = mulExp(u3, m_3, e_3, 2^28) + mulExp(u2, m_2, e_2, 2^28) + mulExp(u, m_1, e_1, 2^28) + biasQ
 *     y   = clamp(RDBPOT(acc, 10), -128, 127)            (one rounding of the Q10 sum)
 *
 * Lowering (float, s = in.scale): for k = 1..3 with eps'_k = eps / s^(2k):
 *   g_k = the largest even number <= 32 with D * eps'_k * 2^g_k <= 2^60 (>= -62),
 *   epsQ_k = clamp(round(D * eps'_k * 2^g_k), 1, 2^60)        (so E >> (g - f) = D*eps'_k*2^f);
 *   (mult, exp)_k = splitReal(w_{3-k} / out.scale * sqrt(D) * 2^10)
 *     (1/sqrt(mean + eps') = sqrt(D) * 2^(f/2) / sqrt(W));
 *   biasQ = clamp(round((b / out.scale + out.zeroPoint) * 2^10), ±2^28).
 * A term saturates at 2^18 output codes (never reached by a meaningful output).
 * Measured (tests): within 0.51 output LSB of the float64 formula on the dequantized input.
 * MACs: 7 per element + 3 per row, as the float layer counts.
 */
import { ConfigError } from '@tinyblocks/core/base';
import { roundHalfAway, roundingDivideByPOT } from '../fixed-point.js';
import { type Int8Graph, type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { checkArity, checkInt, checkTyped, cU64, fieldError, isMantissa, mulExp, mulMant, rsqrtQ31, splitReal } from './int-math.js';

export const POLYNORM_MAX_D = 4096;
/** Fractional bits of the accumulator (output codes). */
const ACC_BITS = 10;
const TERM_LIM = 2 ** 28;
const B60 = 1n << 60n;

export interface PolyNormNode extends NodeBase {
  op: 'polynorm';
  /** [3] signed mantissas of w/out.scale * sqrt(D) * 2^10 for the powers 1, 2, 3 (w2, w1, w0). */
  mult: Int32Array;
  /** [3] their exponents. */
  exp: Int32Array;
  /** [3] g_k: fractional bits of epsQ_k (even, in [-62, 32]). */
  epsShift: Int32Array;
  /** [3] round(D * eps / s^2k * 2^g_k) in [1, 2^60] (integers held in doubles). */
  epsQ: number[];
  /** (b/out.scale + out.zeroPoint) in Q10, in [-2^28, 2^28]. */
  biasQ: number;
}

export interface PolyNormArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  /** [..., D]. */
  in: TensorInfo;
  /** The input's shape. */
  out: TensorInfo;
  /** [w0, w1, w2], w0 for the cube. */
  w: ArrayLike<number>;
  b: number;
  /** Default 1e-6. */
  eps?: number;
}

export function lowerPolyNorm(args: PolyNormArgs): PolyNormNode {
  const where = { op: 'lowerPolyNorm' };
  const shape = args.in?.shape;
  if (!Array.isArray(shape) || shape.length < 1) throw new ConfigError(where, 'in.shape', '[..., D]', shape);
  const D = shape[shape.length - 1]!;
  if (D > POLYNORM_MAX_D) throw new ConfigError(where, 'in.shape', `a last axis of at most ${POLYNORM_MAX_D}`, shape);
  if (!args.w || args.w.length !== 3 || !Array.from(args.w).every(Number.isFinite)) throw new ConfigError(where, 'w', '3 finite numbers [w0, w1, w2]', args.w);
  if (!Number.isFinite(args.b)) throw new ConfigError(where, 'b', 'a finite number', args.b);
  const eps = args.eps ?? 1e-6;
  if (!(eps > 0 && Number.isFinite(eps))) throw new ConfigError(where, 'eps', 'a finite number > 0', eps);
  const s = args.in.scale;
  const so = args.out.scale;
  const node: PolyNormNode = {
    op: 'polynorm',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    mult: new Int32Array(3),
    exp: new Int32Array(3),
    epsShift: new Int32Array(3),
    epsQ: [0, 0, 0],
    biasQ: Math.min(Math.max(roundHalfAway((args.b / so + args.out.zeroPoint) * 2 ** ACC_BITS), -TERM_LIM), TERM_LIM),
  };
  for (let k = 1; k <= 3; k++) {
    const de = D * (eps / s ** (2 * k));
    let g = 32;
    while (g > -62 && !(de * 2 ** g <= 2 ** 60)) g -= 2;
    node.epsShift[k - 1] = g;
    node.epsQ[k - 1] = Math.min(Math.max(Math.round(de * 2 ** g), 1), 2 ** 60);
    const p = splitReal((args.w[3 - k]! / so) * Math.sqrt(D) * 2 ** ACC_BITS);
    node.mult[k - 1] = p.m;
    node.exp[k - 1] = p.e;
  }
  return node;
}

function dims(node: PolyNormNode, graph: Int8Graph) {
  const inT = graph.tensors[node.inputs[0]!]!;
  const D = inT.shape[inT.shape.length - 1]!;
  return { D, rows: tensorSize(inT) / D, inZp: inT.zeroPoint };
}

/** (m, e) of each power for one row's sums (BigInt once per row). */
function rowScales(node: PolyNormNode, sums: bigint[]): number[] {
  const r: number[] = [];
  for (let k = 0; k < 3; k++) {
    const S = sums[k]!;
    let fS = 32;
    while (fS > 0 && S >= B60 >> BigInt(fS)) fS -= 2;
    const g = node.epsShift[k]!;
    const f = Math.min(g, fS);
    const W = (f >= 0 ? S << BigInt(f) : S >> BigInt(-f)) + (BigInt(node.epsQ[k]!) >> BigInt(g - f));
    const rs = rsqrtQ31(W);
    const p = mulMant(node.mult[k]!, node.exp[k]!, rs.m, rs.e + f / 2);
    r.push(p.m, p.e);
  }
  return r;
}

export const polyNorm: OpDef<PolyNormNode> = {
  op: 'polynorm',
  inPlace: true,

  validate(node, graph) {
    checkArity(node, 1, 1);
    const inT = graph.tensors[node.inputs[0]!]!;
    const outT = graph.tensors[node.outputs[0]!]!;
    if (outT.shape.join() !== inT.shape.join()) fieldError(node, 'output shape', `the input shape [${inT.shape.join(', ')}]`, outT.shape);
    if (dims(node, graph).D > POLYNORM_MAX_D) fieldError(node, 'input shape', `a last axis of at most ${POLYNORM_MAX_D}`, inT.shape);
    checkTyped(node, 'mult', Int32Array, 3, -(2 ** 31 - 1), 2 ** 31 - 1);
    node.mult.forEach((m, k) => isMantissa(m) || fieldError(node, `mult[${k}]`, '0 or |m| in [2^30, 2^31)', m));
    checkTyped(node, 'exp', Int32Array, 3, -4096, 4096);
    checkTyped(node, 'epsShift', Int32Array, 3, -62, 32);
    node.epsShift.forEach((g, k) => g % 2 === 0 || fieldError(node, `epsShift[${k}]`, 'an even integer', g));
    if (!Array.isArray(node.epsQ) || node.epsQ.length !== 3) fieldError(node, 'epsQ', '3 integers', node.epsQ);
    node.epsQ.forEach((e, k) => (Number.isInteger(e) && e >= 1 && e <= 2 ** 60) || fieldError(node, `epsQ[${k}]`, 'an integer in [1, 2^60]', e));
    checkInt(node, 'biasQ', -TERM_LIM, TERM_LIM);
  },

  run(node, [input], graph) {
    const { D, rows, inZp } = dims(node, graph);
    const x = input!;
    const out = new Int8Array(rows * D);
    for (let r = 0; r < rows; r++) {
      const base = r * D;
      let s1 = 0;
      let s2 = 0;
      let s3hi = 0; // S3 = s3hi * 2^24 + s3lo, both exact in doubles
      let s3lo = 0;
      for (let i = base; i < base + D; i++) {
        const u = x[i]! - inZp;
        const u2 = u * u;
        s1 += u2;
        s2 += u2 * u2;
        const u6 = u2 * u2 * u2; // < 2^48
        const hi = Math.floor(u6 / 16777216);
        s3hi += hi;
        s3lo += u6 - hi * 16777216;
      }
      const [m1, e1, m2, e2, m3, e3] = rowScales(node, [BigInt(s1), BigInt(s2), (BigInt(s3hi) << 24n) + BigInt(s3lo)]) as [number, number, number, number, number, number];
      for (let i = base; i < base + D; i++) {
        const u = x[i]! - inZp;
        const u2 = u * u;
        const acc = mulExp(u2 * u, m3, e3, TERM_LIM) + mulExp(u2, m2, e2, TERM_LIM) + mulExp(u, m1, e1, TERM_LIM) + node.biasQ;
        const y = roundingDivideByPOT(acc, ACC_BITS);
        out[i] = y < -128 ? -128 : y > 127 ? 127 : y;
      }
    }
    return { outputs: [out] };
  },

  macs(node, graph) {
    const { D, rows } = dims(node, graph);
    return 7 * rows * D + 3 * rows;
  },

  runtime: ['tb_fixed_point.h', 'tb_int_math.h', 'tb_polynorm.h'],

  emitC(node: PolyNormNode, ctx: EmitContext) {
    const { D, rows, inZp } = dims(node, ctx.graph);
    const args = [
      ctx.tensor(node.inputs[0]!),
      ctx.tensor(node.outputs[0]!),
      rows,
      D,
      inZp,
      ctx.data('mult', 'int32_t', node.mult),
      ctx.data('exp', 'int32_t', node.exp),
      ctx.data('eps_shift', 'int32_t', node.epsShift),
      ...node.epsQ.map(cU64),
      node.biasQ,
    ];
    return { call: `tb_polynorm_s8(${args.join(', ')})` };
  },
};
