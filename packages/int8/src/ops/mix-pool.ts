/**
 * mix_pool: the early-exit head's global pooling (SDN), [H, W, C] -> [C]:
 *   pooled = a * max_HW(x) + (1 - a) * mean_HW(x),  a = `mix` in [0, 1] (1: max, 0: mean).
 *
 * Integer semantics. N = H*W <= 65536; per channel c:
 *   umax = max_HW(q) - inZp,   usum = Σ_HW q - N*inZp          (exact)
 *   v    = umax * maxMult + usum * meanMult                    (exact: |v| < 2^53, int64 in C)
 *   y    = clamp(round_half_away(v / 2^shift) + outZp, -128, 127)   (the one rounding)
 * Lowering (float): with M1 = a * inScale/outScale and M2 = (1 - a) * inScale/(outScale * N),
 *   shift K = the largest integer in [1, 62] with 255 * (round(M1 2^K) + N * round(M2 2^K)) < 2^52,
 *   maxMult = round(M1 * 2^K), meanMult = round(M2 * 2^K): two multipliers sharing one exponent,
 *   each with >= 44 significant bits for any sensible scale ratio, so the result is the exact
 *   a*max + (1-a)*mean rounded once (error < 0.5 + 2^-30 LSB).
 * MACs: 0 (pooling counts none, as the float head).
 */
import { ConfigError } from '@tinyblocks/core/base';
import { roundHalfAway } from '../fixed-point.js';
import type { Int8Graph, NodeBase, TensorInfo } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { checkArity, checkInt, cI64, fieldError } from './int-math.js';

const LIMIT = 2 ** 52;

export interface MixPoolNode extends NodeBase {
  op: 'mix_pool';
  /** round(a * inScale/outScale * 2^shift), in [0, 2^52). */
  maxMult: number;
  /** round((1 - a) * inScale/(outScale * N) * 2^shift), in [0, 2^52). */
  meanMult: number;
  /** K in [1, 62]. */
  shift: number;
}

export interface MixPoolArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  /** [H, W, C]. */
  in: TensorInfo;
  /** [C]. */
  out: TensorInfo;
  /** a of a*max + (1-a)*mean, in [0, 1]. */
  mix: number;
}

export function lowerMixPool(args: MixPoolArgs): MixPoolNode {
  const where = { op: 'lowerMixPool' };
  const shape = args.in?.shape;
  if (!Array.isArray(shape) || shape.length !== 3) throw new ConfigError(where, 'in.shape', '[H, W, C]', shape);
  const N = shape[0]! * shape[1]!;
  if (N > 65536) throw new ConfigError(where, 'in.shape', 'H*W <= 65536', shape);
  const a = args.mix;
  if (typeof a !== 'number' || !(a >= 0 && a <= 1)) throw new ConfigError(where, 'mix', 'a number in [0, 1]', a);
  const ratio = args.in.scale / args.out.scale;
  const m1 = a * ratio;
  const m2 = ((1 - a) * ratio) / N;
  for (let K = 62; K >= 1; K--) {
    const maxMult = Math.round(m1 * 2 ** K);
    const meanMult = Math.round(m2 * 2 ** K);
    if (255 * (maxMult + N * meanMult) < LIMIT) {
      return { op: 'mix_pool', name: args.name, inputs: [...args.inputs], outputs: [...args.outputs], maxMult, meanMult, shift: K };
    }
  }
  throw new ConfigError(where, 'in.scale / out.scale', 'a ratio below 2^40', ratio);
}

function dims(node: MixPoolNode, graph: Int8Graph) {
  const inT = graph.tensors[node.inputs[0]!]!;
  const [h, w, c] = inT.shape as [number, number, number];
  return { N: h * w, C: c, inZp: inT.zeroPoint, outZp: graph.tensors[node.outputs[0]!]!.zeroPoint };
}

export const mixPool: OpDef<MixPoolNode> = {
  op: 'mix_pool',

  validate(node, graph) {
    checkArity(node, 1, 1);
    const inT = graph.tensors[node.inputs[0]!]!;
    const outT = graph.tensors[node.outputs[0]!]!;
    if (inT.shape.length !== 3) fieldError(node, 'input shape', '[H, W, C]', inT.shape);
    const { N, C } = dims(node, graph);
    if (N > 65536) fieldError(node, 'input shape', 'H*W <= 65536', inT.shape);
    if (outT.shape.length !== 1 || outT.shape[0] !== C) fieldError(node, 'output shape', `[${C}]`, outT.shape);
    checkInt(node, 'shift', 1, 62);
    const m1 = checkInt(node, 'maxMult', 0, LIMIT - 1);
    const m2 = checkInt(node, 'meanMult', 0, LIMIT - 1);
    if (!(255 * (m1 + N * m2) < LIMIT)) fieldError(node, 'maxMult / meanMult', `255 * (maxMult + ${N} * meanMult) < 2^52`, [m1, m2]);
  },

  run(node, [input], graph) {
    const { N, C, inZp, outZp } = dims(node, graph);
    const x = input!;
    const out = new Int8Array(C);
    const scale = 2 ** node.shift;
    for (let c = 0; c < C; c++) {
      let max = -128;
      let sum = 0;
      for (let i = c; i < N * C; i += C) {
        const q = x[i]!;
        if (q > max) max = q;
        sum += q;
      }
      const v = (max - inZp) * node.maxMult + (sum - N * inZp) * node.meanMult; // exact, < 2^53
      const y = roundHalfAway(v / scale) + outZp; // v / 2^K is exact
      out[c] = y < -128 ? -128 : y > 127 ? 127 : y;
    }
    return { outputs: [out] };
  },

  macs() {
    return 0;
  },

  runtime: ['tb_mix_pool.h'],

  emitC(node: MixPoolNode, ctx: EmitContext) {
    const { N, C, inZp, outZp } = dims(node, ctx.graph);
    const args = [ctx.tensor(node.inputs[0]!), ctx.tensor(node.outputs[0]!), N, C, inZp, outZp, cI64(node.maxMult), cI64(node.meanMult), node.shift];
    return { call: `tb_mix_pool_s8(${args.join(', ')})` };
  },
};
