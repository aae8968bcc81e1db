/**
 * concept_intervene: test-time concept intervention of a concept bottleneck (blocks.md), [k] -> [k],
 * in place allowed. With iv = the run's interventions (one entry per concept: -1 as predicted,
 * 0 off, 1 on; null: none):
 *   out[i] = iv[i] == 1 ? high[i] : iv[i] == 0 ? low[i] : in[i]
 * (any other entry leaves the concept as predicted). `low` / `high` are the codes an intervention
 * writes: the float values (0 / 1 for a probability bottleneck, the 5th / 95th percentile logits
 * for a logit bottleneck) quantized with the tensor's parameters. Input and output tensors must
 * have the same shape, scale and zero point (codes are copied). MACs: 0.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { quantizeValue } from '../affine.js';
import { type Int8Graph, type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { checkArity, checkTyped, fieldError } from './int-math.js';

export interface ConceptInterveneNode extends NodeBase {
  op: 'concept_intervene';
  /** [k] codes written by an intervention of 0. */
  low: Int8Array;
  /** [k] codes written by an intervention of 1. */
  high: Int8Array;
}

export interface ConceptInterveneArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  /** [k]. */
  in: TensorInfo;
  /** [k], same quantization as `in`. */
  out: TensorInfo;
  /** [k] real values an intervention of 0 writes. */
  lowLogits: ArrayLike<number>;
  /** [k] real values an intervention of 1 writes. */
  highLogits: ArrayLike<number>;
}

export function lowerConceptIntervene(args: ConceptInterveneArgs): ConceptInterveneNode {
  const where = { op: 'lowerConceptIntervene' };
  const k = tensorSize(args.out);
  for (const f of ['lowLogits', 'highLogits'] as const) {
    const a = args[f];
    if (!a || a.length !== k) throw new ConfigError(where, f, `${k} numbers (one per concept)`, a?.length);
    for (let i = 0; i < k; i++) if (!Number.isFinite(a[i]!)) throw new ConfigError(where, `${f}[${i}]`, 'a finite number', a[i]);
  }
  return {
    op: 'concept_intervene',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    low: Int8Array.from(args.lowLogits, (v) => quantizeValue(v, args.out)),
    high: Int8Array.from(args.highLogits, (v) => quantizeValue(v, args.out)),
  };
}

export const conceptIntervene: OpDef<ConceptInterveneNode> = {
  op: 'concept_intervene',
  inPlace: true,

  validate(node, graph: Int8Graph) {
    checkArity(node, 1, 1);
    const inT = graph.tensors[node.inputs[0]!]!;
    const outT = graph.tensors[node.outputs[0]!]!;
    if (inT.shape.length !== 1) fieldError(node, 'input shape', '[k]', inT.shape);
    if (outT.shape.join() !== inT.shape.join() || outT.scale !== inT.scale || outT.zeroPoint !== inT.zeroPoint) {
      fieldError(node, 'output tensor', `the input's shape, scale and zero point ([${inT.shape.join(', ')}], ${inT.scale}, ${inT.zeroPoint})`, `[${outT.shape.join(', ')}], ${outT.scale}, ${outT.zeroPoint}`);
    }
    const k = inT.shape[0]!;
    checkTyped(node, 'low', Int8Array, k, -128, 127);
    checkTyped(node, 'high', Int8Array, k, -128, 127);
  },

  run(node, [input], _graph, ctx) {
    const x = input!;
    const iv = ctx.interventions;
    if (iv && iv.length !== x.length) {
      throw new DataError({ layer: node.name }, 'interventions', `${x.length} entries (one per concept)`, iv.length);
    }
    const out = Int8Array.from(x);
    if (iv) {
      for (let i = 0; i < x.length; i++) {
        if (iv[i] === 1) out[i] = node.high[i]!;
        else if (iv[i] === 0) out[i] = node.low[i]!;
      }
    }
    return { outputs: [out] };
  },

  macs() {
    return 0;
  },

  runtime: ['tb_concept_intervene.h'],

  emitC(node: ConceptInterveneNode, ctx: EmitContext) {
    const k = tensorSize(ctx.graph.tensors[node.inputs[0]!]!);
    const args = [ctx.tensor(node.inputs[0]!), ctx.tensor(node.outputs[0]!), k, ctx.data('low', 'int8_t', node.low), ctx.data('high', 'int8_t', node.high), ctx.interventions];
    return { call: `tb_concept_intervene_s8(${args.join(', ')})` };
  },
};
