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
    x = tfl.layers.upSampling2d({ name: 'up', size: [2, 2] }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3, name: 'out' }).apply(x) as tfl.SymbolicTensor });
    const never = () => {
      throw new Error('calibration ran');
    };
    expect(() => quantizeModel(model, never)).toThrow(ConfigError);
    expect(() => quantizeModel(model, never)).toThrow(/up: class: expected a layer with an int8 lowering .*got "UpSampling2D"/);
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
});
