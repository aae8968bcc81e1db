/**
 * exit_decision: the SDN confidence rule of an early-exit head, decided on its int8 logits
 * (inputs: [the head's logits, K codes], outputs: none):
 *   exit  <=>  max softmax(logits) >= tau  <=>  Σ_j exp(l_j - l_max) <= 1/tau.
 *
 * Integer semantics (K <= 32767):
 *   qmax = max_j q_j;  sum = Σ_j table[qmax - q_j]  (int32: <= K * 2^16 < 2^31);  exit = sum <= limit
 * Lowering (float): table[d] = round(2^16 * exp(-in.scale * d)), d = 0..255 (table[0] = 2^16);
 *   limit = tau > 0 ? min(floor(2^16 / tau), 2^31 - 1) : 2^31 - 1 (tau <= 0 always exits; tau > 1
 *   gives a limit below table[0] = 2^16: never).
 * Exactness: each entry is off by <= 1/2 and the limit by < 1, so the decision equals the float
 * rule on the dequantized logits unless |Σ exp(l_j - l_max) - 1/tau| <= (K/2 + 1) / 2^16
 * (for K = 10 and tau = 0.9: max softmax within 8e-5 of tau). Tested.
 * run returns { outputs: [], exit }; the C call is an int expression (non-zero: exit). MACs: 0.
 */
import { ConfigError } from '@tinyblocks/core/base';
import { type Int8Graph, type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { checkArity, checkInt, checkTyped, fieldError } from './int-math.js';

const INT32_MAX = 2 ** 31 - 1;
export const EXIT_DECISION_MAX_K = 32767;

export interface ExitDecisionNode extends NodeBase {
  op: 'exit_decision';
  /** [256] round(2^16 * exp(-inScale * d)). */
  table: Int32Array;
  /** Exit when the sum is <= limit, in [0, 2^31 - 1]. */
  limit: number;
}

export interface ExitDecisionArgs {
  name: string;
  /** [the exit head's logits tensor]. */
  inputs: number[];
  /** [] (no tensor written). */
  outputs: number[];
  /** The logits tensor ([K]). */
  in: TensorInfo;
  /** Unused. */
  out?: TensorInfo;
  /** tau of max softmax >= tau. */
  threshold: number;
}

export function lowerExitDecision(args: ExitDecisionArgs): ExitDecisionNode {
  const where = { op: 'lowerExitDecision' };
  const tau = args.threshold;
  if (typeof tau !== 'number' || Number.isNaN(tau)) throw new ConfigError(where, 'threshold', 'a number', tau);
  if (tensorSize(args.in) > EXIT_DECISION_MAX_K) throw new ConfigError(where, 'in.shape', `at most ${EXIT_DECISION_MAX_K} logits`, args.in.shape);
  const table = Int32Array.from({ length: 256 }, (_, d) => Math.round(65536 * Math.exp(-args.in.scale * d)));
  const limit = tau > 0 ? Math.min(Math.floor(65536 / tau), INT32_MAX) : INT32_MAX;
  return { op: 'exit_decision', name: args.name, inputs: [...args.inputs], outputs: [...args.outputs], table, limit };
}

export const exitDecision: OpDef<ExitDecisionNode> = {
  op: 'exit_decision',

  validate(node, graph: Int8Graph) {
    checkArity(node, 1, 0);
    const k = tensorSize(graph.tensors[node.inputs[0]!]!);
    if (k > EXIT_DECISION_MAX_K) fieldError(node, 'input shape', `at most ${EXIT_DECISION_MAX_K} logits`, graph.tensors[node.inputs[0]!]!.shape);
    checkTyped(node, 'table', Int32Array, 256, 0, 65536);
    checkInt(node, 'limit', 0, INT32_MAX);
  },

  run(node, [logits]) {
    const q = logits!;
    let qmax = -128;
    for (let i = 0; i < q.length; i++) if (q[i]! > qmax) qmax = q[i]!;
    let sum = 0;
    for (let i = 0; i < q.length; i++) sum += node.table[qmax - q[i]!]!;
    return { outputs: [], exit: sum <= node.limit };
  },

  macs() {
    return 0;
  },

  runtime: ['tb_exit_decision.h'],

  emitC(node: ExitDecisionNode, ctx: EmitContext) {
    const k = tensorSize(ctx.graph.tensors[node.inputs[0]!]!);
    const call = `tb_exit_decision_s8(${ctx.tensor(node.inputs[0]!)}, ${k}, ${ctx.data('table', 'int32_t', node.table)}, ${node.limit})`;
    return { call, exitDecision: true };
  },
};
