/**
 * mix_pool: the early-exit head's pooling (SDN), [H, W, C] -> [C]:
 *   pooled = a * max_HW(x) + (1 - a) * mean_HW(x),  a = `mix` in [0, 1] (1: max, 0: mean).
 * With `grid` g (default 1) each of g x g equal regions (H, W divisible by g; row-major) is pooled
 * on its own, and with `concat` the region gives [mean (C), max (C)] instead of their mix:
 * output [g*g*P*C], P = 2 with concat, index (region*P + part)*C + c (the float head's order).
 *
 * Integer semantics. N = the region's (H/g)*(W/g) <= 65536; per region and channel c:
 *   umax = max_HW(q) - inZp,   usum = Σ_HW q - N*inZp          (exact)
 *   v    = umax * maxMult + usum * meanMult                    (exact: |v| < 2^53, int64 in C)
 *   y    = clamp(round_half_away(v / 2^shift) + outZp, -128, 127)   (the one rounding)
 *   concat: the mean part uses v = usum * meanMult, the max part v = umax * maxMult.
 * Lowering (float): with M1 = a * inScale/outScale and M2 = (1 - a) * inScale/(outScale * N)
 * (concat: a = 1 in M1 and a = 0 in M2),
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
  /** g of the g x g pooling grid (absent: 1, global pooling). */
  grid?: number;
  /** Output [mean, max] per region instead of maxMult*max + meanMult*mean (absent: false). */
  concat?: boolean;
}

export interface MixPoolArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  /** [H, W, C]. */
  in: TensorInfo;
  /** [g*g*C], or [g*g*2*C] with concat. */
  out: TensorInfo;
  /** a of a*max + (1-a)*mean, in [0, 1] (ignored with concat). */
  mix: number;
  /** g x g regions (default 1). */
  grid?: number;
  /** [mean, max] per region (default false). */
  concat?: boolean;
}

export function lowerMixPool(args: MixPoolArgs): MixPoolNode {
  const where = { op: 'lowerMixPool' };
  const shape = args.in?.shape;
  if (!Array.isArray(shape) || shape.length !== 3) throw new ConfigError(where, 'in.shape', '[H, W, C]', shape);
  const g = args.grid ?? 1;
  if (!Number.isInteger(g) || g < 1 || shape[0]! % g !== 0 || shape[1]! % g !== 0) {
    throw new ConfigError(where, 'grid', `an integer >= 1 dividing H and W of [${shape.join(', ')}]`, g);
  }
  const N = (shape[0]! / g) * (shape[1]! / g);
  if (N > 65536) throw new ConfigError(where, 'in.shape', '(H/grid)*(W/grid) <= 65536', shape);
  const concat = args.concat ?? false;
  const a = args.mix;
  if (!concat && (typeof a !== 'number' || !(a >= 0 && a <= 1))) throw new ConfigError(where, 'mix', 'a number in [0, 1]', a);
  const ratio = args.in.scale / args.out.scale;
  const m1 = concat ? ratio : a * ratio;
  const m2 = (concat ? ratio : (1 - a) * ratio) / N;
  const layout = { ...(g === 1 ? {} : { grid: g }), ...(concat ? { concat: true } : {}) };
  for (let K = 62; K >= 1; K--) {
    const maxMult = Math.round(m1 * 2 ** K);
    const meanMult = Math.round(m2 * 2 ** K);
    if (255 * (maxMult + N * meanMult) < LIMIT) {
      return { op: 'mix_pool', name: args.name, inputs: [...args.inputs], outputs: [...args.outputs], maxMult, meanMult, shift: K, ...layout };
    }
  }
  throw new ConfigError(where, 'in.scale / out.scale', 'a ratio below 2^40', ratio);
}

function dims(node: MixPoolNode, graph: Int8Graph) {
  const inT = graph.tensors[node.inputs[0]!]!;
  const [h, w, c] = inT.shape as [number, number, number];
  const g = node.grid ?? 1;
  const parts = node.concat ? 2 : 1;
  return { H: h, W: w, g, parts, N: (h / g) * (w / g), C: c, outSize: g * g * parts * c, inZp: inT.zeroPoint, outZp: graph.tensors[node.outputs[0]!]!.zeroPoint };
}

export const mixPool: OpDef<MixPoolNode> = {
  op: 'mix_pool',

  validate(node, graph) {
    checkArity(node, 1, 1);
    const inT = graph.tensors[node.inputs[0]!]!;
    const outT = graph.tensors[node.outputs[0]!]!;
    if (inT.shape.length !== 3) fieldError(node, 'input shape', '[H, W, C]', inT.shape);
    if (node.concat !== undefined && typeof node.concat !== 'boolean') fieldError(node, 'concat', 'a boolean', node.concat);
    const g = node.grid ?? 1;
    if (!Number.isInteger(g) || g < 1 || inT.shape[0]! % g !== 0 || inT.shape[1]! % g !== 0) {
      fieldError(node, 'grid', `an integer >= 1 dividing H and W of [${inT.shape.join(', ')}]`, node.grid);
    }
    const { N, outSize } = dims(node, graph);
    if (N > 65536) fieldError(node, 'input shape', '(H/grid)*(W/grid) <= 65536', inT.shape);
    if (outT.shape.length !== 1 || outT.shape[0] !== outSize) fieldError(node, 'output shape', `[${outSize}]`, outT.shape);
    checkInt(node, 'shift', 1, 62);
    const m1 = checkInt(node, 'maxMult', 0, LIMIT - 1);
    const m2 = checkInt(node, 'meanMult', 0, LIMIT - 1);
    if (!(255 * (m1 + N * m2) < LIMIT)) fieldError(node, 'maxMult / meanMult', `255 * (maxMult + ${N} * meanMult) < 2^52`, [m1, m2]);
  },

  run(node, [input], graph) {
    const { H, W, g, parts, N, C, outSize, inZp, outZp } = dims(node, graph);
    const x = input!;
    const out = new Int8Array(outSize);
    const scale = 2 ** node.shift;
    const rh = H / g;
    const rw = W / g;
    const put = (i: number, v: number) => {
      const y = roundHalfAway(v / scale) + outZp; // v / 2^K is exact
      out[i] = y < -128 ? -128 : y > 127 ? 127 : y;
    };
    for (let r = 0; r < g * g; r++) {
      const y0 = Math.floor(r / g) * rh;
      const x0 = (r % g) * rw;
      for (let c = 0; c < C; c++) {
        let max = -128;
        let sum = 0;
        for (let i = 0; i < rh; i++) {
          for (let j = 0; j < rw; j++) {
            const q = x[((y0 + i) * W + x0 + j) * C + c]!;
            if (q > max) max = q;
            sum += q;
          }
        }
        const vMax = (max - inZp) * node.maxMult; // exact: each term and their sum < 2^53
        const vMean = (sum - N * inZp) * node.meanMult;
        if (parts === 2) {
          put(r * 2 * C + c, vMean);
          put(r * 2 * C + C + c, vMax);
        } else put(r * C + c, vMax + vMean);
      }
    }
    return { outputs: [out] };
  },

  macs() {
    return 0;
  },

  runtime: ['tb_mix_pool.h'],

  emitC(node: MixPoolNode, ctx: EmitContext) {
    const { H, W, g, parts, C, inZp, outZp } = dims(node, ctx.graph);
    const args = [ctx.tensor(node.inputs[0]!), ctx.tensor(node.outputs[0]!), H, W, C, g, parts === 2 ? 1 : 0, inZp, outZp, cI64(node.maxMult), cI64(node.meanMult), node.shift];
    return { call: `tb_mix_pool_s8(${args.join(', ')})` };
  },
};
