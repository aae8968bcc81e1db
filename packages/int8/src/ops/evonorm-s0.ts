/**
 * evonorm_s0: EvoNorm-S0 (blocks.md), [H, W, C] -> [H, W, C], in place allowed:
 *   y = x * sigmoid(v[c]*x) / groupStd(x) * gamma[c] + beta[c],
 *   groupStd = sqrt(biased variance of x over H, W and the C/G channels of the group + eps);
 *   group g holds channels [g*C/G, (g+1)*C/G) (tfjs reshape to [H, W, G, C/G]).
 *
 * Integer semantics. u = q - inZp (|u| <= 255), N = H*W*C/G <= 65536; per group g:
 *   S1 = Σ u, S2 = Σ u² over the group;  T = N*S2 - S1²  (= N² * variance in input steps²)
 *   W  = T * 2^f + E     (f = varShift, E = epsQ; T >> -f (floor) when f < 0; W < 2^61)
 *   (rm, re) = rsqrtQ31(W)                     (int-math.ts: 1/sqrt(W) ~= rm * 2^(re-31))
 *   per channel c of the group: (mc, ec) = mulMant(gammaMult[c], gammaExp[c], rm, re)
 *   per element (sigmoid in Q22 from the 257-entry table SIG = `sigmoid`):
 *     Z   = vQ[c] * u                                   (v*x in Q(20 + vShift[c]), |Z| < 2^31)
 *     a   = |Z| >> vShift[c]                              (|v*x| in Q20)
 *     k   = a >> 16,  t = (a & 0xFFFF) >> 2              (index in steps of 1/16, 14-bit fraction)
 *     s   = a >= 2^24 ? SIG[256] : SIG[k] + floor(((SIG[k+1] - SIG[k]) * t + 2^13) / 2^14)
 *     sig = Z >= 0 ? s : 2^22 - s                        (sigmoid(-z) = 1 - sigmoid(z))
 *     P   = u * sig                                     (|P| < 2^30)
 *     y   = clamp(RDBPOT(mulExp(P, mc, ec, 2^29) + betaQ[c], 4), -128, 127)   (Q4 output codes)
 *
 * Lowering (float, s = in.scale, eps' = eps/s²): f = varShiftFor(N, eps') (evonorm-b0.ts),
 *   E = clamp(round(N² * eps' * 2^f), 1, 2^60); SIG[i] = round(sigmoid(i/16) * 2^22);
 *   vShift = the largest k in [0, 30] with |v * s| * 2^(20+k) <= VQ_MAX = floor((2^31-1)/255)
 *   (0 when v = 0), vQ = clamp(round(v * s * 2^(20 + vShift)), ±VQ_MAX) (>= 22 significant bits);
 *   (gammaMult, gammaExp) = splitReal(gamma/out.scale * 2^-22 * N * 2^(f/2) * 16)
 *     (1/groupStd in input steps = N * 2^(f/2) / sqrt(W); 2^-22 undoes the Q22 sigmoid; 16 = Q4);
 *   betaQ = clamp(round((beta/out.scale + out.zeroPoint) * 16), ±2^29).
 *
 * THE SIGMOID. Its argument v[c]*x depends on the channel. Options:
 *   (a) one 256-entry table per channel indexed by the input code: exact, but the product
 *       x * sigmoid spans the whole output range, so entries need 16 bits: C * 512 bytes
 *       (32 KB for 64 channels) of flash per layer;
 *   (b) requantise v*x to one shared int8 grid, then one 256-entry LUT (blocks.md): 256 bytes, but
 *       a grid covering [-8, 8] has steps of 1/16: half a step moves the sigmoid by up to 1/128,
 *       an error multiplied by x/groupStd*gamma (the whole output range and, where sigmoid ~ 0,
 *       more): ~1 LSB at the range ends, 8 LSB worst case on the test's cases;
 *   (c) CHOSEN: v*x in fixed point (one multiply, one shift), the symmetric half of the sigmoid
 *       tabulated on [0, 16] in steps of 1/16 (257 int32 entries in Q22: 1 KB per layer), linear
 *       interpolation: error <= max|sigmoid''| * (1/16)² / 8 ~ 5e-5, entries exact to 1.2e-7 (so
 *       1 - sigmoid keeps its precision on the negative side, where x/groupStd*gamma can be far
 *       larger than the output range), the clamp at |v*x| = 16 costs 1e-7; per element one
 *       extra multiply over (b).
 * Measured (tests): within 0.58 output LSB of the float64 formula; option (b) on the same cases: 8 LSB.
 * MACs: 4 per element + C per sample, as the float layer counts.
 */
import { ConfigError } from '@tinyblocks/core/base';
import { roundHalfAway, roundingDivideByPOT } from '../fixed-point.js';
import type { NodeBase, TensorInfo } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { varShiftFor } from './evonorm-b0.js';
import { ceilLog2, checkInt, checkTyped, cU64, fieldError, hwcDims, isMantissa, mulExp, mulMant, rsqrtQ31, splitReal } from './int-math.js';

/** |vQ| bound: |vQ * u| < 2^31 for |u| <= 255. */
export const EVONORM_S0_VQ_MAX = Math.floor((2 ** 31 - 1) / 255);
const TWO_29 = 2 ** 29;

export interface EvoNormS0Node extends NodeBase {
  op: 'evonorm_s0';
  /** G: channel groups (divides C). */
  groups: number;
  /** [C] v * inScale in Q(20 + vShift) (v*x per input step). */
  vQ: Int32Array;
  /** [C] in [0, 30]. */
  vShift: Int32Array;
  /** [257] round(sigmoid(i/16) * 2^22), i = 0..256 (steps <= 2^16). */
  sigmoid: Int32Array;
  /** [C] signed mantissa of gamma/outScale * 2^-22 * N * 2^(f/2) * 16 (0 or |m| >= 2^30). */
  gammaMult: Int32Array;
  /** [C] its exponent (value = m * 2^(e - 31)). */
  gammaExp: Int32Array;
  /** [C] (beta/outScale + outZp) in Q4, in [-2^29, 2^29]. */
  betaQ: Int32Array;
  /** f (even, may be negative). */
  varShift: number;
  /** E = round(N² * eps/inScale² * 2^f), in [1, 2^60]. */
  epsQ: number;
}

export interface EvoNormS0Args {
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
  /** The resolved group count (divides C). */
  groups: number;
  eps: number;
}

/** The sigmoid table every S0 node carries (float at export). */
export function sigmoidTableQ22(): Int32Array {
  return Int32Array.from({ length: 257 }, (_, i) => Math.round(2 ** 22 / (1 + Math.exp(-i / 16))));
}

export function lowerEvoNormS0(args: EvoNormS0Args): EvoNormS0Node {
  const where = { op: 'lowerEvoNormS0' };
  const shape = args.in?.shape;
  if (!Array.isArray(shape) || shape.length !== 3) throw new ConfigError(where, 'in.shape', '[H, W, C]', shape);
  const [h, w, C] = shape as [number, number, number];
  const G = args.groups;
  if (!Number.isInteger(G) || G < 1 || C % G !== 0) throw new ConfigError(where, 'groups', `a divisor of the channel count ${C}`, G);
  const N = (h * w * C) / G;
  if (N > 65536) throw new ConfigError(where, 'in.shape', 'H*W*C/groups <= 65536', shape);
  if (!(args.eps > 0 && Number.isFinite(args.eps))) throw new ConfigError(where, 'eps', 'a finite number > 0', args.eps);
  for (const k of ['gamma', 'beta', 'v'] as const) {
    const a = args[k];
    if (!a || a.length !== C) throw new ConfigError(where, k, `${C} numbers (one per channel)`, a?.length);
    for (let c = 0; c < C; c++) if (!Number.isFinite(a[c]!)) throw new ConfigError(where, `${k}[${c}]`, 'a finite number', a[c]);
  }
  const s = args.in.scale;
  const so = args.out.scale;
  const epsC = args.eps / (s * s);
  const f = varShiftFor(N, epsC);
  const node: EvoNormS0Node = {
    op: 'evonorm_s0',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    groups: G,
    vQ: new Int32Array(C),
    vShift: new Int32Array(C),
    sigmoid: sigmoidTableQ22(),
    gammaMult: new Int32Array(C),
    gammaExp: new Int32Array(C),
    betaQ: new Int32Array(C),
    varShift: f,
    epsQ: Math.min(Math.max(Math.round(N * N * epsC * 2 ** f), 1), 2 ** 60),
  };
  for (let c = 0; c < C; c++) {
    const vs = args.v[c]! * s;
    let k = 0;
    while (k < 30 && Math.abs(vs) * 2 ** (21 + k) <= EVONORM_S0_VQ_MAX) k++;
    node.vShift[c] = vs === 0 ? 0 : k;
    node.vQ[c] = Math.min(Math.max(roundHalfAway(vs * 2 ** (20 + node.vShift[c]!)), -EVONORM_S0_VQ_MAX), EVONORM_S0_VQ_MAX);
    const g = splitReal((args.gamma[c]! / so) * 2 ** -22 * N * 2 ** (f / 2) * 16);
    node.gammaMult[c] = g.m;
    node.gammaExp[c] = g.e;
    node.betaQ[c] = Math.min(Math.max(roundHalfAway((args.beta[c]! / so + args.out.zeroPoint) * 16), -TWO_29), TWO_29);
  }
  return node;
}

export const evoNormS0: OpDef<EvoNormS0Node> = {
  op: 'evonorm_s0',
  inPlace: true,

  validate(node, graph) {
    const { hw: HW, c: C } = hwcDims(node, graph, true);
    const inT = graph.tensors[node.inputs[0]!]!;
    const G = checkInt(node, 'groups', 1, C);
    if (C % G !== 0) fieldError(node, 'groups', `a divisor of ${C}`, G);
    const N = (HW * C) / G;
    if (N > 65536) fieldError(node, 'input shape', 'H*W*C/groups <= 65536', inT.shape);
    checkTyped(node, 'vQ', Int32Array, C, -EVONORM_S0_VQ_MAX, EVONORM_S0_VQ_MAX);
    checkTyped(node, 'vShift', Int32Array, C, 0, 30);
    checkTyped(node, 'sigmoid', Int32Array, 257, 0, 2 ** 22);
    for (let k = 0; k < 256; k++) {
      const d = node.sigmoid[k + 1]! - node.sigmoid[k]!;
      if (d < 0 || d > 65536) fieldError(node, `sigmoid[${k + 1}]`, `sigmoid[${k}] + [0, 65536] (a non-decreasing table)`, node.sigmoid[k + 1]);
    }
    checkTyped(node, 'gammaMult', Int32Array, C, -(2 ** 31 - 1), 2 ** 31 - 1);
    node.gammaMult.forEach((m, c) => isMantissa(m) || fieldError(node, `gammaMult[${c}]`, '0 or |m| in [2^30, 2^31)', m));
    checkTyped(node, 'gammaExp', Int32Array, C, -4096, 4096);
    checkTyped(node, 'betaQ', Int32Array, C, -TWO_29, TWO_29);
    const f = checkInt(node, 'varShift', -62, 46 - 2 * ceilLog2(N));
    if (f % 2 !== 0) fieldError(node, 'varShift', 'an even integer', f);
    checkInt(node, 'epsQ', 1, 2 ** 60);
  },

  run(node, [input], graph) {
    const { hw: HW, c: C, inZp } = hwcDims(node, graph);
    const x = input!;
    const out = new Int8Array(HW * C);
    const cg = C / node.groups;
    const N = HW * cg;
    const f = node.varShift;
    const eps = BigInt(node.epsQ);
    const sig = node.sigmoid;
    for (let g = 0; g < node.groups; g++) {
      const c0 = g * cg;
      let s1 = 0;
      let s2 = 0;
      for (let p = 0; p < HW * C; p += C) {
        for (let i = p + c0; i < p + c0 + cg; i++) {
          const u = x[i]! - inZp;
          s1 += u;
          s2 += u * u;
        }
      }
      const T = N * s2 - s1 * s1;
      const r = rsqrtQ31((f >= 0 ? BigInt(T) << BigInt(f) : BigInt(T) >> BigInt(-f)) + eps);
      for (let c = c0; c < c0 + cg; c++) {
        const { m, e } = mulMant(node.gammaMult[c]!, node.gammaExp[c]!, r.m, r.e);
        const vq = node.vQ[c]!;
        const vs = node.vShift[c]!;
        const beta = node.betaQ[c]!;
        for (let i = c; i < HW * C; i += C) {
          const u = x[i]! - inZp;
          const z = vq * u;
          const a = (z < 0 ? -z : z) >> vs;
          let sv: number;
          if (a >= 16777216) sv = sig[256]!;
          else {
            const k = a >> 16;
            sv = sig[k]! + (((sig[k + 1]! - sig[k]!) * ((a & 0xffff) >> 2) + 8192) >> 14);
          }
          const y = roundingDivideByPOT(mulExp(u * (z >= 0 ? sv : 4194304 - sv), m, e, TWO_29) + beta, 4);
          out[i] = y < -128 ? -128 : y > 127 ? 127 : y;
        }
      }
    }
    return { outputs: [out] };
  },

  macs(node, graph) {
    const { hw: HW, c: C } = hwcDims(node, graph);
    return 4 * HW * C + C;
  },

  runtime: ['tb_fixed_point.h', 'tb_int_math.h', 'tb_evonorm_s0.h'],

  emitC(node: EvoNormS0Node, ctx: EmitContext) {
    const { hw: HW, c: C, inZp } = hwcDims(node, ctx.graph);
    const args = [
      ctx.tensor(node.inputs[0]!),
      ctx.tensor(node.outputs[0]!),
      HW,
      C,
      node.groups,
      inZp,
      ctx.data('v_q', 'int32_t', node.vQ),
      ctx.data('v_shift', 'int32_t', node.vShift),
      ctx.data('sigmoid', 'int32_t', node.sigmoid),
      ctx.data('gamma_mult', 'int32_t', node.gammaMult),
      ctx.data('gamma_exp', 'int32_t', node.gammaExp),
      ctx.data('beta_q', 'int32_t', node.betaQ),
      node.varShift,
      cU64(node.epsQ),
    ];
    return { call: `tb_evonorm_s0_s8(${args.join(', ')})` };
  },
};
