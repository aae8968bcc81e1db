/**
 * evonorm_b0: EvoNorm-B0 at inference (blocks.md), [H, W, C] -> [H, W, C], in place allowed:
 *   y = x / max(sqrt(movingVariance[c] + eps), v[c]*x + instanceStd(x)) * gamma[c] + beta[c],
 *   instanceStd = sqrt(biased variance of x over H, W (per channel) + eps).
 *
 * Integer semantics. u = q - inZp (|u| <= 255), N = H*W <= 65536; per channel c, F = fracBits[c]:
 *   S1 = Σ u,  S2 = Σ u²  over the N positions              (int32, uint32)
 *   T  = N*S2 - S1²                                           (= N² * variance in input steps², int64)
 *   W  = T * 2^f + E     (f = varShift, E = epsQ; T >> -f (floor) when f < 0; W < 2^61)
 *   (s, j) = normSqrt(W)                                      (int-math.ts: sqrt(W) ~= s * 2^-j)
 *   I  = mulExp(s, invNMult, invNShift + F - j - f/2, 2^30 - 1)
 *                                          (instanceStd in input steps, Q(F): sqrt(W) / (N * 2^(f/2)))
 *   per element:
 *     t   = floor((vQ[c]*u + 128) / 256) + I                   (v*u + instanceStd, Q(F); int64 product)
 *     den = max(batchStd[c], t)                               (>= 2)
 *     a   = |u| * 2^24 (uint32),  qt = floor(a/den) + (2*(a mod den) >= den ? 1 : 0)
 *     y   = clamp(RDBPOT(MBQM(u < 0 ? -qt : qt, multiplier[c], shift[c]) + betaQ[c], 4), -128, 127)
 *           (MBQM = multiplyByQuantizedMultiplier with shift <= 0, RDBPOT = roundingDivideByPOT:
 *           the sum is in Q4 output codes, so beta and the zero point are not rounded separately)
 *
 * Lowering (float, s = in.scale): eps' = eps / s² (eps in input steps²);
 *   f = the largest even number <= 46 - 2*ceil(log2 N) (so T * 2^f < 2^60) with N² * eps' * 2^f
 *   <= 2^60, at least -62; E = clamp(round(N² * eps' * 2^f), 1, 2^60);
 *   invNMult/invNShift = quantizeMultiplier(1/N);
 *   per channel, with G = |gamma|/out.scale, bstd = sqrt(movingVariance + eps)/s and
 *   Dmax = max(bstd, |v|*255 + sqrt(2^14 + eps')) (the largest denominator, in input steps):
 *   F = clamp(min(floor(19 - log2 G), floor(30 - log2 Dmax)), 0, 30): den < 2^31, and the
 *       quotient's rounding costs at most G * 2^(F-24) / 2 <= 1/64 output LSB;
 *   batchStd = clamp(round(bstd * 2^F), 2, 2^30), vQ = clamp(round(v * 2^(F+8)), ±VQ_MAX),
 *   multiplier/shift = quantizeMultiplier(min(G * 2^(F-20), 1/2)) (Q4 output; negated for gamma < 0),
 *   betaQ = clamp(round((beta / out.scale + out.zeroPoint) * 16), ±2^29).
 * Measured (tests): within 0.58 output LSB of the float64 formula on the dequantized input.
 * MACs: 4 per element as the float layer counts (x², v*x, the division, the gamma scale).
 */
import { ConfigError } from '@tinyblocks/core/base';
import { multiplyByQuantizedMultiplier, quantizeMultiplier, roundHalfAway, roundingDivideByPOT } from '../fixed-point.js';
import type { NodeBase, TensorInfo } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { ceilLog2, checkInt, checkTyped, cI32, cU64, fieldError, hwcDims, isMantissa, mulExp, normSqrt } from './int-math.js';

/** |vQ| bound: |vQ * u / 256| < 2^30 - 255 for |u| <= 255. */
export const EVONORM_B0_VQ_MAX = Math.floor(((2 ** 30 - 256) * 256) / 255);
const TWO_29 = 2 ** 29;
const TWO_30 = 2 ** 30;

export interface EvoNormB0Node extends NodeBase {
  op: 'evonorm_b0';
  /** [C] F: fractional bits of the denominator, in [0, 30]. */
  fracBits: Int32Array;
  /** [C] sqrt(movingVariance + eps) / inScale in Q(F), in [2, 2^30]. */
  batchStd: Int32Array;
  /** [C] v in Q(F + 8) (per input step). */
  vQ: Int32Array;
  /** [C] signed Q31 mantissa of gamma/outScale * 2^(F-20) (0 or |m| >= 2^30). */
  multiplier: Int32Array;
  /** [C] in [-31, 0]. */
  shift: Int32Array;
  /** [C] (beta/outScale + outZp) in Q4, in [-2^29, 2^29]. */
  betaQ: Int32Array;
  /** f (even, may be negative): the variance numerator's fractional bits. */
  varShift: number;
  /** E = round(N² * eps/inScale² * 2^f), in [1, 2^60] (an integer held in a double). */
  epsQ: number;
  /** 1/N as a quantized multiplier. */
  invNMult: number;
  invNShift: number;
}

export interface EvoNormB0Args {
  name: string;
  inputs: number[];
  outputs: number[];
  /** [H, W, C]. */
  in: TensorInfo;
  /** [H, W, C]. */
  out: TensorInfo;
  gamma: ArrayLike<number>;
  beta: ArrayLike<number>;
  v: ArrayLike<number>;
  movingVariance: ArrayLike<number>;
  eps: number;
}

/** The radicand's fractional bits f for n values and an epsilon of epsC steps² (see the top). */
export function varShiftFor(n: number, epsC: number): number {
  let f = 46 - 2 * ceilLog2(n);
  while (f > -62 && n * n * epsC * 2 ** f > 2 ** 60) f -= 2;
  return f;
}

export function lowerEvoNormB0(args: EvoNormB0Args): EvoNormB0Node {
  const where = { op: 'lowerEvoNormB0' };
  const shape = args.in?.shape;
  if (!Array.isArray(shape) || shape.length !== 3) throw new ConfigError(where, 'in.shape', '[H, W, C]', shape);
  const [h, w, C] = shape as [number, number, number];
  const N = h * w;
  if (N > 65536) throw new ConfigError(where, 'in.shape', 'H*W <= 65536', shape);
  if (!(args.eps > 0 && Number.isFinite(args.eps))) throw new ConfigError(where, 'eps', 'a finite number > 0', args.eps);
  for (const k of ['gamma', 'beta', 'v', 'movingVariance'] as const) {
    const a = args[k];
    if (!a || a.length !== C) throw new ConfigError(where, k, `${C} numbers (one per channel)`, a?.length);
    for (let c = 0; c < C; c++) if (!Number.isFinite(a[c]!)) throw new ConfigError(where, `${k}[${c}]`, 'a finite number', a[c]);
  }
  const s = args.in.scale;
  const so = args.out.scale;
  const epsC = args.eps / (s * s);
  const f = varShiftFor(N, epsC);
  const epsQ = Math.min(Math.max(Math.round(N * N * epsC * 2 ** f), 1), 2 ** 60);
  const invN = quantizeMultiplier(1 / N);
  const node: EvoNormB0Node = {
    op: 'evonorm_b0',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    fracBits: new Int32Array(C),
    batchStd: new Int32Array(C),
    vQ: new Int32Array(C),
    multiplier: new Int32Array(C),
    shift: new Int32Array(C),
    betaQ: new Int32Array(C),
    varShift: f,
    epsQ,
    invNMult: invN.multiplier,
    invNShift: invN.shift,
  };
  for (let c = 0; c < C; c++) {
    const mv = args.movingVariance[c]! + args.eps;
    if (!(mv > 0)) throw new ConfigError(where, `movingVariance[${c}]`, `a number > -eps (${-args.eps})`, args.movingVariance[c]);
    const bstd = Math.sqrt(mv) / s;
    const v = args.v[c]!;
    const gamma = args.gamma[c]!;
    const G = Math.abs(gamma) / so;
    const dmax = Math.max(bstd, Math.abs(v) * 255 + Math.sqrt(2 ** 14 + epsC));
    const fPrec = G > 0 ? Math.floor(19 - Math.log2(G)) : 30;
    const F = Math.min(Math.max(Math.min(fPrec, Math.floor(30 - Math.log2(dmax))), 0), 30);
    node.fracBits[c] = F;
    node.batchStd[c] = Math.min(Math.max(Math.round(bstd * 2 ** F), 2), TWO_30);
    node.vQ[c] = Math.min(Math.max(roundHalfAway(v * 2 ** (F + 8)), -EVONORM_B0_VQ_MAX), EVONORM_B0_VQ_MAX);
    const qm = quantizeMultiplier(Math.min(G * 2 ** (F - 20), 0.5));
    node.multiplier[c] = gamma < 0 ? -qm.multiplier : qm.multiplier;
    node.shift[c] = qm.shift;
    node.betaQ[c] = Math.min(Math.max(roundHalfAway((args.beta[c]! / so + args.out.zeroPoint) * 16), -TWO_29), TWO_29);
  }
  return node;
}

export const evoNormB0: OpDef<EvoNormB0Node> = {
  op: 'evonorm_b0',
  inPlace: true,

  validate(node, graph) {
    const { hw: N, c: C } = hwcDims(node, graph, true);
    const inT = graph.tensors[node.inputs[0]!]!;
    if (N > 65536) fieldError(node, 'input shape', 'H*W <= 65536', inT.shape);
    checkTyped(node, 'fracBits', Int32Array, C, 0, 30);
    checkTyped(node, 'batchStd', Int32Array, C, 2, TWO_30);
    checkTyped(node, 'vQ', Int32Array, C, -EVONORM_B0_VQ_MAX, EVONORM_B0_VQ_MAX);
    checkTyped(node, 'multiplier', Int32Array, C, -(2 ** 31 - 1), 2 ** 31 - 1);
    node.multiplier.forEach((m, c) => isMantissa(m) || fieldError(node, `multiplier[${c}]`, '0 or |m| in [2^30, 2^31)', m));
    checkTyped(node, 'shift', Int32Array, C, -31, 0);
    checkTyped(node, 'betaQ', Int32Array, C, -TWO_29, TWO_29);
    const f = checkInt(node, 'varShift', -62, 46 - 2 * ceilLog2(N));
    if (f % 2 !== 0) fieldError(node, 'varShift', 'an even integer', f);
    checkInt(node, 'epsQ', 1, 2 ** 60);
    checkInt(node, 'invNMult', 2 ** 30, 2 ** 31 - 1);
    checkInt(node, 'invNShift', -31, 1);
  },

  run(node, [input], graph) {
    const { hw: N, c: C, inZp } = hwcDims(node, graph);
    const x = input!;
    const out = new Int8Array(N * C);
    const f = node.varShift;
    const eps = BigInt(node.epsQ);
    for (let c = 0; c < C; c++) {
      let s1 = 0;
      let s2 = 0;
      for (let i = c; i < N * C; i += C) {
        const u = x[i]! - inZp;
        s1 += u;
        s2 += u * u;
      }
      const T = N * s2 - s1 * s1; // < 2^49: exact
      const { s, j } = normSqrt((f >= 0 ? BigInt(T) << BigInt(f) : BigInt(T) >> BigInt(-f)) + eps);
      const F = node.fracBits[c]!;
      const inst = mulExp(s, node.invNMult, node.invNShift + F - j - f / 2, TWO_30 - 1);
      const vq = node.vQ[c]!;
      const bstd = node.batchStd[c]!;
      const m = node.multiplier[c]!;
      const sh = node.shift[c]!;
      const beta = node.betaQ[c]!;
      for (let i = c; i < N * C; i += C) {
        const u = x[i]! - inZp;
        const t = Math.floor((vq * u + 128) / 256) + inst;
        const den = t > bstd ? t : bstd;
        const a = (u < 0 ? -u : u) * 16777216;
        let q = Math.floor(a / den); // exact: a < 2^32, den < 2^31
        const r = a - q * den;
        if (2 * r >= den) q++;
        const y = roundingDivideByPOT(multiplyByQuantizedMultiplier(u < 0 ? -q : q, m, sh) + beta, 4);
        out[i] = y < -128 ? -128 : y > 127 ? 127 : y;
      }
    }
    return { outputs: [out] };
  },

  macs(node, graph) {
    const { hw: N, c: C } = hwcDims(node, graph);
    return 4 * N * C;
  },

  runtime: ['tb_fixed_point.h', 'tb_int_math.h', 'tb_evonorm_b0.h'],

  emitC(node: EvoNormB0Node, ctx: EmitContext) {
    const { hw: N, c: C, inZp } = hwcDims(node, ctx.graph);
    const args = [
      ctx.tensor(node.inputs[0]!),
      ctx.tensor(node.outputs[0]!),
      N,
      C,
      inZp,
      ctx.data('frac_bits', 'int32_t', node.fracBits),
      ctx.data('batch_std', 'int32_t', node.batchStd),
      ctx.data('v_q', 'int32_t', node.vQ),
      ctx.data('multiplier', 'int32_t', node.multiplier),
      ctx.data('shift', 'int32_t', node.shift),
      ctx.data('beta_q', 'int32_t', node.betaQ),
      node.varShift,
      cU64(node.epsQ),
      cI32(node.invNMult),
      node.invNShift,
    ];
    return { call: `tb_evonorm_b0_s8(${args.join(', ')})` };
  },
};
