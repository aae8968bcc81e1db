/**
 * The one extension point, end to end: a user's own tf.layers layer and a user's own int8 kernel
 * (TypeScript reference + C source) registered from outside tinyblocks, then the unchanged CLI
 * exports the model and verifies the C bit-exact with the TypeScript reference and against float.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@tinyblocks/core';
import { saveModel } from '@tinyblocks/core/node';
import { type EmitContext, type Int8Graph, type Int8Node, registerOp, tensorSize } from '@tinyblocks/int8';
import { registerLowering } from '@tinyblocks/quantize';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, SKIP_C, testDir } from './test-cli.js';

const tmp = testDir('tinyblocks-extension-');

/** The user's layer: clip to [lo, hi] (a float op tinyblocks knows nothing about). */
class Clip extends tfl.layers.Layer {
  static className = 'UserClip';
  readonly lo: number;
  readonly hi: number;
  constructor(config: { lo: number; hi: number; name?: string }) {
    super(config);
    this.lo = config.lo;
    this.hi = config.hi;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.clipByValue(Array.isArray(inputs) ? inputs[0]! : inputs, this.lo, this.hi);
  }
  override getConfig() {
    return { ...super.getConfig(), lo: this.lo, hi: this.hi };
  }
}

/** The user's int8 op: clamp codes to [lo, hi] on one grid; TS reference and C beside it. */
interface ClipNode { op: 'user_clip'; name: string; inputs: number[]; outputs: number[]; lo: number; hi: number }
const C_HEADER = '#ifndef USER_CLIP_H\n#define USER_CLIP_H\n#include <stdint.h>\nvoid user_clip_s8(const int8_t *in, int8_t *out, int32_t n, int32_t lo, int32_t hi);\n#endif\n';
const C_SOURCE = '#include "user_clip.h"\nvoid user_clip_s8(const int8_t *in, int8_t *out, int32_t n, int32_t lo, int32_t hi) {\n  int32_t i;\n  for (i = 0; i < n; i++) out[i] = (int8_t)(in[i] < lo ? lo : in[i] > hi ? hi : in[i]);\n}\n';

beforeAll(async () => {
  await initBackend('cpu');
  tf.serialization.registerClass(Clip);
  registerOp({
    op: 'user_clip',
    validate(node: ClipNode, graph: Int8Graph) {
      if (!(node.lo <= node.hi) || tensorSize(graph.tensors[node.inputs[0]!]!) !== tensorSize(graph.tensors[node.outputs[0]!]!)) throw new Error(`${node.name}: bad user_clip`);
    },
    run: (node: ClipNode, [x]: Int8Array[]) => ({ outputs: [x!.map((q) => Math.min(Math.max(q, node.lo), node.hi))] }),
    macs: () => 0,
    runtime: ['user_clip.h'],
    sources: { 'user_clip.h': C_HEADER, 'user_clip.c': C_SOURCE },
    emitC: (node: ClipNode, ctx: EmitContext) => ({ call: `user_clip_s8(${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, ${tensorSize(ctx.graph.tensors[node.inputs[0]!]!)}, ${node.lo}, ${node.hi})` }),
  } as never);
  registerLowering({
    classes: ['UserClip'],
    lower({ layer, name, outName, outShape, io, newOut, b }) {
      const { i, inInfo } = io();
      const o = newOut(outName, outShape, inInfo); // the input's grid: clamping codes is exact
      const code = (v: number) => Math.min(127, Math.max(-128, Math.round(v / inInfo.scale) + inInfo.zeroPoint));
      b.push({ op: 'user_clip', name, inputs: [i], outputs: [o], lo: code((layer as unknown as Clip).lo), hi: code((layer as unknown as Clip).hi) } as unknown as Int8Node);
    },
  });
});

describe("a user's own layer and kernel through the unchanged CLI", () => {
  it.skipIf(SKIP_C)('exports (the user C ships with the export) and verifies bit-exact, agreeing with float', async () => {
    const input = tfl.input({ shape: [28, 28, 1], name: 'image' });
    let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, strides: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tfl.SymbolicTensor;
    x = new Clip({ name: 'clip', lo: -0.2, hi: 0.5 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const y = tfl.layers.dense({ name: 'fc', units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tfl.SymbolicTensor;
    const dir = path.join(tmp, 'user-model');
    await saveModel(tfl.model({ inputs: input, outputs: y }), dir);
    const out = path.join(tmp, 'user-c');
    const e = await cli('export', dir, '--out', out, '--calib-count', '100');
    expect(e.code, e.err).toBe(0);
    expect(e.out).toMatch(/clip\s+user_clip/);
    expect(fs.readFileSync(path.join(out, 'user_clip.c'), 'utf8')).toBe(C_SOURCE);
    const v = await cli('verify', out, '--count', '20', '--data', 'subset', '--min-agreement', '0.5');
    expect(v.out.trim().split('\n').at(-2)).toBe('verify host: 20/20 bit-exact');
    expect(v.out.trim().split('\n').at(-1)).toMatch(/^float agreement: \d+\/20 top-1, worst layer \w+ \d+\.\d dB$/);
    expect(v.code).toBe(0);
  }, 120_000);
});
