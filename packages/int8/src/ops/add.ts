/**
 * add: elementwise int8 addition of two same-shape tensors, TFLite's reference
 * `integer_ops::Add` (AddFunc) semantics, parameters as TFLite's add.cc Prepare computes them.
 *
 * Lowering (float, export time), with sA, sB, sOut the tensors' scales:
 *   leftShift = 20, twiceMax = 2 * max(sA, sB)
 *   (aMultiplier, aShift)     = quantizeMultiplier(sA / twiceMax)                 (<= 0.5)
 *   (bMultiplier, bShift)     = quantizeMultiplier(sB / twiceMax)                 (<= 0.5)
 *   (outMultiplier, outShift) = quantizeMultiplier(twiceMax / (2^leftShift * sOut)) (must be < 1)
 * Kernel, for every i (all shifts <= 0, so multiplyByQuantizedMultiplier is TFLite's
 * MultiplyByQuantizedMultiplierSmallerThanOneExp):
 *   a'  = multiplyByQuantizedMultiplier((a[i] - zpA) * 2^leftShift, aMultiplier, aShift)
 *   b'  = multiplyByQuantizedMultiplier((b[i] - zpB) * 2^leftShift, bMultiplier, bShift)
 *   y   = clamp(multiplyByQuantizedMultiplier(a' + b', outMultiplier, outShift) + zpOut, actMin, actMax)
 * With leftShift <= 22 every intermediate fits int32 (|x - zp| <= 255). No broadcasting: both
 * inputs and the output have the same shape. inPlace: the output may reuse input 0's buffer.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { multiplyByQuantizedMultiplier, quantizeMultiplier } from '../fixed-point.js';
import { type Int8Graph, type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { type FusedActivation, fusedActivationRange, int8OpHelpers as h } from './conv2d.js';

export interface AddNode extends NodeBase {
  op: 'add';
  /** 20 (TFLite's int8 value); at most 22. */
  leftShift: number;
  aMultiplier: number;
  /** In [-31, 0]. */
  aShift: number;
  bMultiplier: number;
  bShift: number;
  outMultiplier: number;
  outShift: number;
  actMin: number;
  actMax: number;
}

export interface AddArgs {
  name: string;
  /** [a, b]. */
  inputs: number[];
  outputs: number[];
  /** The TensorInfo of each input, in `inputs` order. */
  in: [TensorInfo, TensorInfo];
  out: TensorInfo;
  activation?: FusedActivation;
}

const LEFT_SHIFT = 20;

export function lowerAdd(args: AddArgs): AddNode {
  const where = { op: 'lowerAdd' };
  if (!Array.isArray(args.in) || args.in.length !== 2) throw new ConfigError(where, 'in', 'two TensorInfos [a, b]', args.in);
  if (!Array.isArray(args.inputs) || args.inputs.length !== 2) throw new ConfigError(where, 'inputs', 'two tensor ids [a, b]', args.inputs);
  const [a, b] = args.in;
  const same = (s: number[]) => s.length === args.out.shape.length && s.every((d, i) => d === args.out.shape[i]);
  if (!same(a.shape)) throw new ConfigError(where, 'in[0].shape', `the output shape [${args.out.shape.join(', ')}] (no broadcasting)`, a.shape);
  if (!same(b.shape)) throw new ConfigError(where, 'in[1].shape', `the output shape [${args.out.shape.join(', ')}] (no broadcasting)`, b.shape);
  const twiceMax = 2 * Math.max(a.scale, b.scale);
  const qa = quantizeMultiplier(a.scale / twiceMax);
  const qb = quantizeMultiplier(b.scale / twiceMax);
  const realOut = twiceMax / (2 ** LEFT_SHIFT * args.out.scale);
  if (!(realOut < 1)) throw new ConfigError(where, 'out.scale', `> 2 * max(input scales) / 2^${LEFT_SHIFT} (${twiceMax / 2 ** LEFT_SHIFT})`, args.out.scale);
  const qo = quantizeMultiplier(realOut);
  return {
    op: 'add',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    leftShift: LEFT_SHIFT,
    aMultiplier: qa.multiplier,
    aShift: qa.shift,
    bMultiplier: qb.multiplier,
    bShift: qb.shift,
    outMultiplier: qo.multiplier,
    outShift: qo.shift,
    ...fusedActivationRange(where, args.activation, args.out),
  };
}

function zps(node: AddNode, graph: Int8Graph) {
  const t = (id: number) => graph.tensors[id]!;
  return { aZp: t(node.inputs[0]!).zeroPoint, bZp: t(node.inputs[1]!).zeroPoint, outZp: t(node.outputs[0]!).zeroPoint, n: tensorSize(t(node.outputs[0]!)) };
}

export const add: OpDef<AddNode> = {
  op: 'add',

  validate(node, graph) {
    h.checkArity(node, 2, 1);
    const shapeOf = (id: number) => graph.tensors[id]!.shape.join(',');
    const outShape = shapeOf(node.outputs[0]!);
    node.inputs.forEach((id, k) => {
      if (shapeOf(id) !== outShape) throw new DataError({ layer: node.name }, `input ${k} shape`, `the output shape [${outShape}] (no broadcasting)`, graph.tensors[id]!.shape);
    });
    const where = { layer: node.name };
    if (!Number.isInteger(node.leftShift) || node.leftShift < 0 || node.leftShift > 22) throw new DataError(where, 'leftShift', 'an integer in [0, 22]', node.leftShift);
    for (const k of ['a', 'b', 'out'] as const) {
      const m = node[`${k}Multiplier`];
      const s = node[`${k}Shift`];
      if (!Number.isInteger(m) || m < 0 || m > 2 ** 31 - 1) throw new DataError(where, `${k}Multiplier`, 'an integer in [0, 2^31 - 1]', m);
      if (!Number.isInteger(s) || s < -31 || s > 0) throw new DataError(where, `${k}Shift`, 'an integer in [-31, 0] (a multiplier < 1)', s);
    }
    h.checkActRange(node);
  },

  run(node, [a, b], graph) {
    const { aZp, bZp, outZp, n } = zps(node, graph);
    const { aMultiplier, aShift, bMultiplier, bShift, outMultiplier, outShift, actMin, actMax } = node;
    const lift = 2 ** node.leftShift;
    const out = new Int8Array(n);
    for (let i = 0; i < n; i++) {
      const sa = multiplyByQuantizedMultiplier((a![i]! - aZp) * lift, aMultiplier, aShift);
      const sb = multiplyByQuantizedMultiplier((b![i]! - bZp) * lift, bMultiplier, bShift);
      const y = multiplyByQuantizedMultiplier(sa + sb, outMultiplier, outShift) + outZp;
      out[i] = y < actMin ? actMin : y > actMax ? actMax : y;
    }
    return { outputs: [out] };
  },

  macs() {
    return 0;
  },

  inPlace: true,

  runtime: ['tb_add.h'],

  emitC(node: AddNode, ctx: EmitContext) {
    const z = zps(node, ctx.graph);
    const fields: Array<[string, number]> = [
      ['a_zp', z.aZp], ['b_zp', z.bZp], ['out_zp', z.outZp], ['left_shift', node.leftShift],
      ['a_multiplier', node.aMultiplier], ['a_shift', node.aShift], ['b_multiplier', node.bMultiplier], ['b_shift', node.bShift],
      ['out_multiplier', node.outMultiplier], ['out_shift', node.outShift], ['act_min', node.actMin], ['act_max', node.actMax],
    ];
    const params = fields.map(([k, v]) => `.${k} = ${h.cInt(v)}`).join(', ');
    const [a, b] = node.inputs.map((id) => ctx.tensor(id));
    return { call: `tb_add_s8(${a}, ${b}, ${ctx.tensor(node.outputs[0]!)}, ${z.n}, &(const tb_add_params){ ${params} })` };
  },
};
