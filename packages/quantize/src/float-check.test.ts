/**
 * checkAgainstFloat: the float model and its int8 graph on the same inputs. A faithful graph
 * agrees on top-1 and has every layer well above 20 dB; a graph that computes the wrong
 * function (BatchNorm folded across a fused ReLU, the bug that passed every bit-exact check) is
 * caught and the layer named.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@tinyblocks/core';
import { Rng } from '@tinyblocks/core/base';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@tinyblocks/core';
import { checkAgainstFloat, quantizeModel } from './index.js';

let batches: tf.Tensor[] = [];
beforeAll(async () => {
  await initBackend('cpu');
  const rng = new Rng(5);
  batches = Array.from({ length: 4 }, () => tf.tensor(Float32Array.from({ length: 32 * 12 * 12 * 3 }, () => rng.uniform(0, 1)), [32, 12, 12, 3]));
});

function setWeights(model: tfl.LayersModel, seed: number): void {
  const r = new Rng(seed);
  for (const w of model.weights) {
    const n = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    const name = w.originalName;
    // BatchNorm statistics as a trained one has them: gamma of both signs, shifted means
    const v = Float32Array.from({ length: n }, () =>
      /moving_variance/.test(name) ? r.uniform(0.2, 2) : /gamma/.test(name) ? r.uniform(-1.5, 1.5) : /moving_mean/.test(name) ? r.uniform(0, 1) : /beta/.test(name) ? r.uniform(-0.5, 0.5) : r.normal(0, 0.3));
    w.write(tf.tensor(v, w.shape as number[]));
  }
}

/** conv (fused relu) -> BN -> conv -> flatten -> dense: BN reads relu(conv), not conv. */
function reluThenBn(): tfl.LayersModel {
  const input = tfl.input({ shape: [12, 12, 3] });
  let x = tfl.layers.conv2d({ name: 'conv1', filters: 8, kernelSize: 3, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: 'bn1' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ name: 'conv2', filters: 8, kernelSize: 3, strides: 2, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten({ name: 'flat' }).apply(x) as tfl.SymbolicTensor;
  const y = tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor;
  const m = tfl.model({ inputs: input, outputs: y });
  setWeights(m, 11);
  return m;
}

describe('checkAgainstFloat', () => {
  it('conv with a fused ReLU, then BatchNorm: int8 agrees with float, every layer above 25 dB', () => {
    const model = reluThenBn();
    const graph = quantizeModel(model, batches, { method: 'minmax', equalize: false });
    const check = checkAgainstFloat(model, graph, batches);
    expect(check.count).toBe(128);
    expect(check.layers.map((l) => l.tensor)).toEqual(expect.arrayContaining(['bn1', 'conv2', 'fc']));
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(25);
    expect(check.agreement).toBeGreaterThanOrEqual(0.95);
    expect(check.firstJump).toBeNull();
  });

  it('names the first layer where the error jumps when a graph computes the wrong function', () => {
    const model = reluThenBn();
    const graph = quantizeModel(model, batches, { method: 'minmax', equalize: false });
    // corrupt conv2's weights in the int8 graph: every byte-for-byte check of C vs TS would still pass
    const conv2 = graph.nodes.find((n) => n.name === 'conv2')! as unknown as { weights: Int8Array };
    const w = Object.values(conv2).find((v) => v instanceof Int8Array) as Int8Array;
    for (let i = 0; i < w.length; i += 2) w[i] = -w[i]!;
    const check = checkAgainstFloat(model, graph, batches);
    expect(check.firstJump?.tensor).toBe('conv2');
    expect(check.worst!.sqnrDb).toBeLessThan(10);
    expect(check.layers.find((l) => l.tensor === 'bn1')!.sqnrDb).toBeGreaterThan(25);
  });

  /** c1 -> ReLU layer (its config given) -> c2 -> dense, with one outlier channel in c1's output. */
  function outlierModel(relu: { maxValue?: number }): tfl.LayersModel {
    const input = tfl.input({ shape: [12, 12, 3] });
    let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3 }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.reLU({ name: 'act1', ...relu }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ name: 'c2', filters: 8, kernelSize: 3, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 3);
    const [k, b] = model.getLayer('c1').getWeights();
    const kv = k!.arraySync() as number[][][][];
    for (const a of kv) for (const bb of a) for (const c of bb) c[0] = Math.abs(c[0]!) * 20;
    model.getLayer('c1').setWeights([tf.tensor(kv), b!]);
    return model;
  }

  it('undoes outlier-channel equalization before comparing (equalized layers read as float)', () => {
    const model = outlierModel({});
    const graph = quantizeModel(model, batches, { method: 'minmax', equalize: true });
    expect(graph.meta['equalized']).toBeDefined();
    const check = checkAgainstFloat(model, graph, batches);
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(20);
  });

  it('a ReLU layer with maxValue 6 is neither equalized nor lowered as a plain ReLU', () => {
    const model = outlierModel({ maxValue: 6 });
    for (const equalize of [true, false]) {
      const graph = quantizeModel(model, batches, { method: 'minmax', equalize });
      expect(graph.meta['equalized']).toBeUndefined();
      const check = checkAgainstFloat(model, graph, batches);
      for (const l of check.layers) expect(l.sqnrDb, `${l.tensor} (equalize ${equalize})`).toBeGreaterThan(20);
      expect(check.layers.find((l) => l.tensor === 'act1')!.maxStepError).toBeLessThan(2);
    }
  });

  it('dropout and gaussian noise are identities; global average pooling lowers; int8 tracks float', () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.gaussianNoise({ name: 'noise', stddev: 0.1 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ name: 'c2', filters: 16, kernelSize: 3, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dropout({ name: 'drop', rate: 0.5 }).apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 9);
    const graph = quantizeModel(model, batches, { method: 'minmax' });
    expect(graph.nodes.map((n) => n.op)).toEqual(['conv2d', 'conv2d', 'avg_pool2d', 'reshape', 'dense']);
    const check = checkAgainstFloat(model, graph, batches);
    expect(check.layers.map((l) => l.tensor)).toEqual(['c1', 'c2', 'gap', 'fc']);
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(25);
    expect(check.agreement).toBeGreaterThanOrEqual(0.95);
  });

  it('an unsupported layer fails before any calibration, naming the layer and its class', () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3 }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.conv2dTranspose({ name: 'up', filters: 4, kernelSize: 2, strides: 2 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3, name: 'out' }).apply(x) as tfl.SymbolicTensor });
    const never = () => {
      throw new Error('calibration ran');
    };
    expect(() => quantizeModel(model, never)).toThrow(ConfigError);
    expect(() => quantizeModel(model, never)).toThrow(/up: class: expected a layer with an int8 lowering .*got "Conv2DTranspose"/);
  });

  it('max pooling and global max pooling lower to max_pool2d; int8 tracks float', () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.maxPooling2d({ name: 'mp', poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ name: 'c2', filters: 16, kernelSize: 3, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.maxPooling2d({ name: 'mp2', poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.globalMaxPooling2d({ name: 'gmp' }).apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 13);
    const graph = quantizeModel(model, batches, { method: 'minmax' });
    expect(graph.nodes.map((n) => n.op)).toEqual(['conv2d', 'max_pool2d', 'conv2d', 'max_pool2d', 'max_pool2d', 'reshape', 'dense']);
    const check = checkAgainstFloat(model, graph, batches);
    expect(check.layers.map((l) => l.tensor)).toEqual(['c1', 'mp', 'c2', 'mp2', 'gmp', 'fc']);
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(25);
    expect(check.agreement).toBeGreaterThanOrEqual(0.95);
  });

  it('the classic tutorial CNN (max pooling, dropout, softmax in the Dense, as an Activation, as a Softmax layer) lowers and tracks float', () => {
    for (const head of ['dense', 'activation', 'layer'] as const) {
      const input = tfl.input({ shape: [12, 12, 3] });
      let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
      x = tfl.layers.maxPooling2d({ name: 'mp1', poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.conv2d({ name: 'c2', filters: 16, kernelSize: 3, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.flatten({ name: 'flat' }).apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.dropout({ name: 'drop', rate: 0.25 }).apply(x) as tfl.SymbolicTensor;
      let y = tfl.layers.dense({ name: 'fc', units: 10, activation: head === 'dense' ? 'softmax' : 'linear' }).apply(x) as tfl.SymbolicTensor;
      if (head === 'activation') y = tfl.layers.activation({ name: 'probs', activation: 'softmax' }).apply(y) as tfl.SymbolicTensor;
      if (head === 'layer') y = tfl.layers.softmax({ name: 'probs' }).apply(y) as tfl.SymbolicTensor;
      const model = tfl.model({ inputs: input, outputs: y });
      setWeights(model, 17);
      const graph = quantizeModel(model, batches, { method: 'minmax' });
      expect(graph.nodes.map((n) => n.op), head).toEqual(['conv2d', 'max_pool2d', 'conv2d', 'reshape', 'dense', 'softmax']);
      const out = graph.tensors[graph.outputs[0]!.tensor]!;
      expect([out.scale, out.zeroPoint]).toEqual([1 / 256, -128]);
      const check = checkAgainstFloat(model, graph, batches);
      const probs = check.layers.at(-1)!;
      expect(probs.op).toBe('softmax');
      expect(probs.sqnrDb, head).toBeGreaterThan(20);
      expect(check.agreement, head).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('LeakyReLU, ELU, ThresholdedReLU layers and selu / softsign / mish / gelu activations become tables that track float', () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, padding: 'same' }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.leakyReLU({ name: 'leaky', alpha: 0.1 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ name: 'c2', filters: 8, kernelSize: 3, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.elu({ name: 'elu' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.thresholdedReLU({ name: 'thr', theta: 0.05 }).apply(x) as tfl.SymbolicTensor;
    for (const a of ['selu', 'softsign', 'mish', 'gelu'] as const) {
      x = tfl.layers.conv2d({ name: `c_${a}`, filters: 8, kernelSize: 1 }).apply(x) as tfl.SymbolicTensor;
      x = tfl.layers.activation({ name: a, activation: a as never }).apply(x) as tfl.SymbolicTensor;
    }
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 21);
    const graph = quantizeModel(model, batches, { method: 'minmax' });
    const tables = graph.nodes.filter((n) => n.op === 'lut').map((n) => n.name);
    expect(tables).toEqual(['leaky', 'elu', 'thr', 'selu', 'softsign', 'mish', 'gelu']);
    const check = checkAgainstFloat(model, graph, batches);
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(20);
    expect(check.agreement).toBeGreaterThanOrEqual(0.9);
  });

  it('SeparableConv2D lowers to depthwise + 1x1 conv (its middle tensor calibrated); int8 tracks float', () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    let x = tfl.layers.separableConv2d({ name: 'sep1', filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.separableConv2d({ name: 'sep2', filters: 8, kernelSize: 3, strides: 2 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 23);
    const graph = quantizeModel(model, batches, { method: 'minmax' });
    expect(graph.nodes.map((n) => `${n.name}:${n.op}`).slice(0, 4)).toEqual(['sep1_depthwise:depthwise_conv2d', 'sep1:conv2d', 'sep2_depthwise:depthwise_conv2d', 'sep2:conv2d']);
    const check = checkAgainstFloat(model, graph, batches);
    expect(check.layers.map((l) => l.tensor)).toEqual(expect.arrayContaining(['sep1', 'sep2', 'fc']));
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(25);
    expect(check.agreement).toBeGreaterThanOrEqual(0.95);
  });

  it('ZeroPadding2D and UpSampling2D (nearest) lower to pad2d and upsample2d; int8 tracks float', () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    let x = tfl.layers.zeroPadding2d({ name: 'pad', padding: [[1, 2], [0, 3]] }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, strides: 2, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.upSampling2d({ name: 'up', size: [2, 3] }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.zeroPadding2d({ name: 'pad2', padding: 1 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ name: 'c2', filters: 8, kernelSize: 3, strides: 2 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 27);
    const graph = quantizeModel(model, batches, { method: 'minmax' });
    expect(graph.nodes.map((n) => n.op).slice(0, 5)).toEqual(['pad2d', 'conv2d', 'upsample2d', 'pad2d', 'conv2d']);
    const check = checkAgainstFloat(model, graph, batches);
    expect(check.layers.map((l) => l.tensor)).toEqual(expect.arrayContaining(['pad', 'up', 'pad2']));
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(25);
    expect(check.agreement).toBeGreaterThanOrEqual(0.95);
  });

  it('Concatenate on the channel axis (branches on different grids, requantized) tracks float', () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    const a = tfl.layers.conv2d({ name: 'b1', filters: 4, kernelSize: 1, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    const c = tfl.layers.conv2d({ name: 'b3', filters: 6, kernelSize: 3, padding: 'same' }).apply(input) as tfl.SymbolicTensor;
    const m = tfl.layers.maxPooling2d({ name: 'bp', poolSize: 3, strides: 1, padding: 'same' }).apply(input) as tfl.SymbolicTensor;
    let x = tfl.layers.concatenate({ name: 'cat' }).apply([a, c, m]) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ name: 'c2', filters: 8, kernelSize: 3, strides: 2, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 29);
    const graph = quantizeModel(model, batches, { method: 'minmax' });
    expect(graph.nodes.find((n) => n.name === 'cat')!.op).toBe('concat');
    const check = checkAgainstFloat(model, graph, batches);
    expect(check.layers.map((l) => l.tensor)).toEqual(expect.arrayContaining(['cat']));
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(25);
    expect(check.agreement).toBeGreaterThanOrEqual(0.95);
  });

  it('Conv1D and a Dense on a rank-3 input lower to conv2d between two free reshapes; int8 tracks float', async () => {
    const input = tfl.input({ shape: [20, 4] });
    let x = tfl.layers.conv1d({ name: 'k1', filters: 8, kernelSize: 3, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.conv1d({ name: 'k2', filters: 8, kernelSize: 3, strides: 2, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ name: 'perstep', units: 6, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 31);
    const r = new Rng(8);
    const seq = [0, 1, 2].map(() => tf.tensor(Float32Array.from({ length: 32 * 20 * 4 }, () => r.uniform(0, 1)), [32, 20, 4]));
    const graph = quantizeModel(model, seq, { method: 'minmax' });
    expect(graph.nodes.filter((n) => n.op === 'conv2d').map((n) => n.name)).toEqual(['k1', 'k2', 'perstep']);
    const check = checkAgainstFloat(model, graph, seq);
    expect(check.layers.map((l) => l.tensor)).toEqual(expect.arrayContaining(['k1', 'k2', 'perstep', 'fc']));
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(25);
    expect(check.agreement).toBeGreaterThanOrEqual(0.9); // an untrained net: near-tied logits
  });

  it('sigmoid / tanh / gelu inside a conv or dense: the kernel writes the calibrated pre-activation, a table follows', () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, activation: 'tanh' }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, activation: 'sigmoid' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ name: 'd1', units: 16, activation: 'gelu' as never }).apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 33);
    const graph = quantizeModel(model, batches, { method: 'minmax' });
    expect(graph.nodes.map((n) => `${n.name}:${n.op}`)).toEqual(['c1:conv2d', 'c1_tanh:lut', 'dw:depthwise_conv2d', 'dw_sigmoid:lut', 'flatten_Flatten1:reshape', 'd1:dense', 'd1_gelu:lut', 'fc:dense'].map((s) => (s.startsWith('flatten') ? graph.nodes[4]!.name + ':reshape' : s)));
    const check = checkAgainstFloat(model, graph, batches);
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(25);
    expect(check.agreement).toBeGreaterThanOrEqual(0.9);
  });

  it('an Add of three inputs runs as a chain through calibrated partial sums; int8 tracks float', () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    const branches = [1, 2, 3].map((k) => tfl.layers.conv2d({ name: `b${k}`, filters: 8, kernelSize: 3, padding: 'same' }).apply(input) as tfl.SymbolicTensor);
    let x = tfl.layers.add({ name: 'sum' }).apply(branches) as tfl.SymbolicTensor;
    x = tfl.layers.reLU({ name: 'act' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ name: 'fc', units: 10 }).apply(x) as tfl.SymbolicTensor });
    setWeights(model, 35);
    const graph = quantizeModel(model, batches, { method: 'minmax' });
    expect(graph.nodes.filter((n) => n.op === 'add').map((n) => n.name)).toEqual(['sum_sum1', 'sum']);
    const check = checkAgainstFloat(model, graph, batches);
    for (const l of check.layers) expect(l.sqnrDb, l.tensor).toBeGreaterThan(25);
    expect(check.agreement).toBeGreaterThanOrEqual(0.9);
  });
});
