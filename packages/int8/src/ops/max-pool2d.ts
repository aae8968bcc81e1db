/**
 * max_pool2d: int8 max pooling, TFLite's reference `integer_ops::MaxPool` semantics. Input and
 * output share one scale and zero point, so the largest raw code is the largest value:
 *
 *   y[oy, ox, c] = clamp(max_{ky, kx in bounds} x[oy * SH - padTop + ky, ox * SW - padLeft + kx, c], actMin, actMax)
 *
 * Geometry, padding (taps outside the input are skipped, never read as zero) and validation are
 * avg_pool2d's; GlobalMaxPooling2D is one window over the whole map. C: runtime/tb_max_pool2d.c.
 */
import type { EmitContext, OpDef } from '../op.js';
import { avgPool2d, type AvgPool2dArgs, type AvgPool2dNode, lowerAvgPool2d, poolCall, poolWindows } from './avg-pool2d.js';

export interface MaxPool2dNode extends Omit<AvgPool2dNode, 'op'> {
  op: 'max_pool2d';
}

export function lowerMaxPool2d(args: AvgPool2dArgs): MaxPool2dNode {
  return { ...lowerAvgPool2d(args), op: 'max_pool2d' };
}

export const maxPool2d: OpDef<MaxPool2dNode> = {
  op: 'max_pool2d',

  validate(node, graph) {
    avgPool2d.validate(node as unknown as AvgPool2dNode, graph); // the same fields and constraints
  },

  run(node, [input], graph) {
    const [, W, C] = graph.tensors[node.inputs[0]!]!.shape as [number, number, number];
    const x = input!;
    const { actMin, actMax } = node;
    const out = new Int8Array(graph.tensors[node.outputs[0]!]!.shape.reduce((a, b) => a * b, 1));
    poolWindows(node, graph, (o, iy0, ix0, ky0, ky1, kx0, kx1) => {
      for (let c = 0; c < C; c++) {
        let m = -128;
        for (let ky = ky0; ky < ky1; ky++) {
          for (let kx = kx0; kx < kx1; kx++) {
            const v = x[((iy0 + ky) * W + ix0 + kx) * C + c]!;
            if (v > m) m = v;
          }
        }
        out[o * C + c] = m < actMin ? actMin : m > actMax ? actMax : m;
      }
    });
    return { outputs: [out] };
  },

  macs() {
    return 0;
  },

  runtime: ['tb_avg_pool2d.h', 'tb_max_pool2d.h'],

  emitC(node: MaxPool2dNode, ctx: EmitContext) {
    return { call: poolCall('tb_max_pool2d_s8', node, ctx) };
  },
};
