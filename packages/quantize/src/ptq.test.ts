import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, initBackend } from '@tinyblocks/core';
import { crreluLayer } from '@tinyblocks/crrelu';
import { deltaLayer } from '@tinyblocks/delta';
import { runGraph, type Int8Graph } from '@tinyblocks/int8';
import { conceptBottleneck } from '@tinyblocks/concept-bottleneck';
import { earlyExitHead } from '@tinyblocks/early-exit';
import { evoNormB0Layer, evoNormS0Layer } from '@tinyblocks/evonorm';
import { polyNormLayer, polyReLULayer } from '@tinyblocks/polycom';
import { Rng } from '@tinyblocks/core/base';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrateModel, foldBatchNorm, lowerModel, quantizeInput, quantizeModel } from './index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function randomBatch(shape: number[], seed: number, lo = 0, hi = 1): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.uniform(lo, hi)), shape);
}

/** Sets every weight of a model to seeded random values (moving variances positive). */
function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const w of model.weights) {
    const n = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    const positive = /variance|gamma/.test(w.originalName);
    const values = Float32Array.from({ length: n }, () => (positive ? rng.uniform(0.5, 1.5) : rng.uniform(-0.5, 0.5)));
    w.write(tf.tensor(values, w.shape as number[]));
  }
}

function dequantize(graph: Int8Graph, tensor: number, codes: Int8Array): Float64Array {
  const t = graph.tensors[tensor]!;
  return Float64Array.from(codes, (q) => t.scale * (q - t.zeroPoint));
}

/** int8 run of every sample vs the float model: max |error| in units of the output scale. */
function compareOutputs(model: tfl.LayersModel, graph: Int8Graph, x: tf.Tensor): number[] {
  const outs = model.predict(x) as tf.Tensor | tf.Tensor[];
  const floats = (Array.isArray(outs) ? outs : [outs]).map((t) => t.dataSync() as Float32Array);
  const worst = graph.outputs.map(() => 0);
  const per = x.size / x.shape[0]!;
  const xs = x.dataSync();
  for (let s = 0; s < x.shape[0]!; s++) {
    const r = runGraph(graph, quantizeInput(graph, xs.subarray(s * per, (s + 1) * per)));
    graph.outputs.forEach((o, k) => {
      const deq = dequantize(graph, o.tensor, r.outputs[k]!);
      const f = floats[k]!;
      const n = deq.length;
      for (let i = 0; i < n; i++) worst[k] = Math.max(worst[k]!, Math.abs(deq[i]! - f[s * n + i]!) / graph.tensors[o.tensor]!.scale);
    });
  }
  return worst;
}

/** Every block once: conv -> EvoNorm B0 -> conv s2 -> CRReLU -> exit1 (2x2 grid, [avg, max]); conv 1x1 -> EvoNorm S0 -> dw -> PolyReLU -> exit2;
 * pool -> flatten -> Delta -> dense -> PolyNorm -> concept bottleneck. */
function allBlocksModel(): tfl.LayersModel {
  const apply = (l: { apply: (x: tfl.SymbolicTensor) => unknown }, x: tfl.SymbolicTensor) => l.apply(x) as tfl.SymbolicTensor;
  const image = tfl.input({ shape: [16, 16, 1] });
  let x = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }), image);
  x = apply(evoNormB0Layer({}), x);
  x = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same' }), x);
  x = apply(crreluLayer({ epsInit: 0.5 }), x);
  const exit1 = apply(earlyExitHead({ numClasses: 4, pooling: 'concat', grid: 2 }), x);
  x = apply(tfl.layers.conv2d({ filters: 16, kernelSize: 1, useBias: false }), x);
  x = apply(evoNormS0Layer({ groups: 4 }), x);
  x = apply(tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }), x);
  x = apply(polyReLULayer({}), x);
  const exit2 = apply(earlyExitHead({ numClasses: 4 }), x);
  x = apply(tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }), x);
  x = apply(tfl.layers.flatten(), x);
  x = apply(deltaLayer({ timeAxis: 0, thresholdInit: 0.05 }), x);
  x = apply(tfl.layers.dense({ units: 12 }), x);
  x = apply(polyNormLayer({}), x);
  const [logits, concepts] = conceptBottleneck({ numConcepts: 3, numClasses: 4, bottleneck: 'logit' }).apply(x) as tfl.SymbolicTensor[];
  return tfl.model({ name: 'blocks', inputs: image, outputs: [logits!, exit1, exit2, concepts!] });
}

describe('foldBatchNorm', () => {
  it.each(['Conv2D', 'DepthwiseConv2D', 'Dense'])('%s + BatchNormalization equals the folded layer (float)', (cls) => {
    const input = tfl.input({ shape: cls === 'Dense' ? [6] : [5, 5, 3] });
    const layer =
      cls === 'Conv2D' ? tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' })
      : cls === 'DepthwiseConv2D' ? tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' })
      : tfl.layers.dense({ units: 4 });
    const bn = tfl.layers.batchNormalization({ epsilon: 1e-3 });
    const model = tfl.model({ inputs: input, outputs: bn.apply(layer.apply(input)) as tfl.SymbolicTensor });
    randomizeWeights(model, 3);
    const [kernel, bias] = layer.getWeights().map((w) => w.dataSync() as Float32Array);
    const folded = foldBatchNorm(bn, kernel!, bias, cls);
    const x = randomBatch(cls === 'Dense' ? [2, 6] : [2, 5, 5, 3], 4, -1, 1);
    const expected = model.predict(x) as tf.Tensor;
    const k = tf.tensor(folded.kernel, layer.getWeights()[0]!.shape);
    const y =
      cls === 'Conv2D' ? tf.add(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), folded.bias)
      : cls === 'DepthwiseConv2D' ? tf.add(tf.depthwiseConv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), folded.bias)
      : tf.add(tf.matMul(x as tf.Tensor2D, k as tf.Tensor2D), folded.bias);
    const e = expected.dataSync();
    const g = y.dataSync();
    for (let i = 0; i < e.length; i++) expect(g[i]).toBeCloseTo(e[i]!, 4);
  });
});

describe('quantizeModel', () => {
  it('a conv/BN/depthwise/pool/dense model: int8 outputs within a few output steps of float', () => {
    const input = tfl.input({ shape: [8, 8, 2] });
    let x = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization().apply(x) as tfl.SymbolicTensor;
    x = crreluLayer({ epsInit: 0.5 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.activation({ activation: 'tanh' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ units: 5 }).apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ name: 'small', inputs: input, outputs: x });
    randomizeWeights(model, 7);
    const calib = [randomBatch([16, 8, 8, 2], 1), randomBatch([16, 8, 8, 2], 2)];
    const graph = quantizeModel(model, calib);
    expect(graph.nodes.map((n) => n.op)).toEqual(['conv2d', 'conv2d', 'lut', 'depthwise_conv2d', 'lut', 'avg_pool2d', 'reshape', 'dense']);
    expect(graph.nodes.some((n) => n.name.includes('batch_normalization'))).toBe(false); // folded
    const worst = compareOutputs(model, graph, randomBatch([8, 8, 8, 2], 9));
    expect(worst[0]).toBeLessThan(8); // output quantization steps (of 255): errors of five layers add up
  });

  it('lowers every tinyblocks block (a small model shaped like the reference architecture)', () => {
    const model = allBlocksModel();
    randomizeWeights(model, 2);
    const calib = [randomBatch([8, 16, 16, 1], 5)];
    const graph = quantizeModel(model, calib, { outputRoles: ['logits', 'exit', 'exit', 'concepts'], exitThreshold: 0.9 });
    const ops = new Set(graph.nodes.map((n) => n.op));
    for (const op of ['conv2d', 'evonorm_b0', 'lut', 'mix_pool', 'dense', 'exit_decision', 'evonorm_s0', 'depthwise_conv2d', 'avg_pool2d', 'reshape', 'delta_dense', 'polynorm', 'concept_intervene']) {
      expect(ops.has(op), op).toBe(true);
    }
    expect(graph.outputs.map((o) => o.role)).toEqual(['logits', 'exit', 'exit', 'concepts']);
    expect(graph.meta['exitThreshold']).toBe(0.9);
    const pools = graph.nodes.filter((n) => n.op === 'mix_pool');
    expect(pools.map((n) => [n['grid'], n['concat']])).toEqual([[2, true], [undefined, undefined]]);
    expect(graph.tensors[pools[0]!.outputs[0]!]!.shape).toEqual([2 * 2 * 2 * 8]);
    // one threshold per exit head
    const two = quantizeModel(model, calib, { outputRoles: ['logits', 'exit', 'exit', 'concepts'], exitThreshold: [0.5, 0.999] });
    const limits = two.nodes.filter((n) => n.op === 'exit_decision').map((n) => n['limit']);
    expect(limits).toEqual([Math.floor(65536 / 0.5), Math.floor(65536 / 0.999)]);
    expect(() => quantizeModel(model, calib, { exitThreshold: [0.5] })).toThrow(/exitThreshold: expected a number for exit head 2/);
    // the int8 graph tracks the float model on unseen inputs: every output within a few steps
    const worst = compareOutputs(model, graph, randomBatch([4, 16, 16, 1], 6));
    console.log(`[quantize] all-blocks model, worst |int8 - float| per output in output steps: ${worst.map((w) => w.toFixed(2)).join(', ')}`);
    for (const w of worst) expect(w).toBeLessThan(12);
  });

  it('percentile calibration gives a tighter range than min/max on data with outliers', () => {
    const input = tfl.input({ shape: [4] });
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
    randomizeWeights(model, 1);
    const data = randomBatch([512, 4], 3, -1, 1).arraySync() as number[][];
    data[0] = [100, -100, 100, -100];
    const batch = tf.tensor2d(data);
    const mm = calibrateModel(model, [batch], { method: 'minmax' });
    const pc = calibrateModel(model, [batch], { method: 'percentile', percentile: 99 });
    const name = model.inputs[0]!.name;
    expect(pc.get(name)!.params().scale).toBeLessThan(mm.get(name)!.params().scale / 10);
  });
});

describe('typed errors', () => {
  it('an unsupported layer names the layer and its class', () => {
    const input = tfl.input({ shape: [8, 8, 1] });
    const pooled = tfl.layers.conv2dTranspose({ name: 'up_x', filters: 2, kernelSize: 2, strides: 2 }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.flatten().apply(pooled) as tfl.SymbolicTensor });
    const run = () => quantizeModel(model, [randomBatch([2, 8, 8, 1], 1)]);
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/up_x: class: expected a layer with an int8 lowering .*got "Conv2DTranspose"/);
  });

  it('a Delta layer not followed by a Dense layer', () => {
    const input = tfl.input({ shape: [6] });
    const d = deltaLayer({ name: 'delta_x', timeAxis: 0 }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.activation({ activation: 'relu' }).apply(d) as tfl.SymbolicTensor });
    const ranges = calibrateModel(model, [randomBatch([4, 6], 1)]);
    expect(() => lowerModel(model, ranges)).toThrow(/delta_x: next layer: expected a Dense layer/);
  });

  it('a conv with an activation it can neither clamp nor tabulate (softmax inside a conv)', () => {
    const input = tfl.input({ shape: [4, 4, 1] });
    const model = tfl.model({ inputs: input, outputs: tfl.layers.conv2d({ name: 'conv_sm', filters: 2, kernelSize: 1, activation: 'softmax' }).apply(input) as tfl.SymbolicTensor });
    expect(() => quantizeModel(model, [randomBatch([2, 4, 4, 1], 1)])).toThrow(/conv_sm: activation: expected one of linear, relu, relu6/);
  });
});
