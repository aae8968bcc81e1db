import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, countModel } from '@tinyblocks/core';
import { BACKENDS, maxRelError, randomArray, tensorFrom, useBackend } from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import { applyThresholds, concatHeadProbabilities, earlyExitHead, earlyExitPredict, headProbabilities, maxProbability, sweepThresholds, tuneThresholds } from './index.js';

const N = 24;
const glorot = (seed: number) => tfl.initializers.glorotUniform({ seed });

/** conv1 -> [exit0] -> conv2 -> [exit1] -> flatten -> final (softmax), outputs [exit0, exit1, final]. */
function multiExitModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 2] });
  const conv = (name: string, seed: number) =>
    tfl.layers.conv2d({ name, filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: glorot(seed) });
  const c1 = conv('conv1', 1).apply(input) as tfl.SymbolicTensor;
  const e0 = earlyExitHead({ name: 'exit0', numClasses: 3, seed: 2 }).apply(c1) as tfl.SymbolicTensor;
  const c2 = conv('conv2', 3).apply(c1) as tfl.SymbolicTensor;
  const e1 = earlyExitHead({ name: 'exit1', numClasses: 3, pooling: 'avg', seed: 4 }).apply(c2) as tfl.SymbolicTensor;
  const flat = tfl.layers.flatten({ name: 'flat' }).apply(c2);
  const final = tfl.layers.dense({ name: 'final', units: 3, activation: 'softmax', kernelInitializer: glorot(5) }).apply(flat);
  const model = tfl.model({ inputs: input, outputs: [e0, e1, final as tfl.SymbolicTensor] });
  const exit1 = model.getLayer('exit1');
  exit1.setWeights(exit1.getWeights().map((w) => tf.mul(w, 8))); // a more confident exit 1
  return model;
}

/** Records the batch size of every call of a layer. */
function spy(model: tfl.LayersModel, name: string): number[] {
  const layer = model.getLayer(name);
  const sizes: number[] = [];
  const call = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => {
    sizes.push((Array.isArray(inputs) ? inputs[0]! : inputs).shape[0]!);
    return call(inputs, kwargs);
  };
  return sizes;
}

/** Softmax probabilities of every exit on the whole batch, from the plain model. */
function allExits(model: tfl.LayersModel, x: tf.Tensor): Float32Array[][] {
  return tf.tidy(() => {
    const out = model.predict(x) as tf.Tensor[];
    return out.map((t, i) => {
      const p = (i < 2 ? tf.softmax(t) : t).dataSync() as Float32Array;
      return Array.from({ length: N }, (_, s) => p.slice(s * 3, (s + 1) * 3));
    });
  });
}

const argMax = (p: ArrayLike<number>) => Array.from(p).indexOf(maxProbability(p));

describe.each(BACKENDS)('earlyExitPredict on %s', (backend) => {
  it('threshold 0: every sample exits at head 0, nothing after it runs, MACs = countModel(conv1 + exit0)', async () => {
    await useBackend(backend);
    const model = multiExitModel();
    const x = tensorFrom(randomArray(N * 72, 1), [N, 6, 6, 2]);
    const ref = allExits(model, x);
    const calls = ['conv1', 'exit0', 'conv2', 'exit1', 'final'].map((n) => spy(model, n));
    const before = tf.memory().numTensors;
    const res = earlyExitPredict(model, x, { rule: 'confidence', threshold: 0 });
    expect(tf.memory().numTensors).toBe(before);
    expect(res.heads).toEqual(['exit0', 'exit1', 'final']);
    expect(res.exitHistogram).toEqual([N, 0, 0]);
    expect(calls).toEqual([[N], [N], [], [], []]);
    const count = countModel(model).layers;
    const macsOf = (...names: string[]) => names.reduce((s, n) => s + count.find((l) => l.name === n)!.macs, 0);
    expect(macsOf('conv1', 'exit0')).toBeGreaterThan(0);
    res.samples.forEach((s, i) => {
      expect(s).toMatchObject({ exitIndex: 0, prediction: argMax(ref[0]![i]!), macs: macsOf('conv1', 'exit0') });
      expect(maxRelError(s.probabilities, ref[0]![i]!)).toBeLessThan(1e-5);
    });
    expect(res.averageMacs).toBe(macsOf('conv1', 'exit0'));
    expect(res.exitMacs).toEqual([macsOf('conv1', 'exit0'), macsOf('conv1', 'exit0', 'conv2', 'exit1'), countModel(model).totalMacs]);
    expect(res.baselineMacs).toBe(macsOf('conv1', 'conv2', 'final'));
    x.dispose();
  });

  it('threshold > 1: every sample reaches the final head and costs the full model (worst case)', async () => {
    await useBackend(backend);
    const model = multiExitModel();
    const x = tensorFrom(randomArray(N * 72, 2), [N, 6, 6, 2]);
    const ref = allExits(model, x);
    const finalCalls = spy(model, 'final');
    const res = earlyExitPredict(model, x, { rule: 'confidence', threshold: 1.01 });
    expect(res.exitHistogram).toEqual([0, 0, N]);
    expect(finalCalls).toEqual([N]);
    const total = countModel(model).totalMacs;
    expect(res.fullModelMacs).toBe(total);
    expect(res.worstCaseMacs).toBe(total);
    expect(res.worstCaseMacs).toBeGreaterThan(res.baselineMacs); // the heads add to the worst case
    res.samples.forEach((s, i) => {
      expect(s).toMatchObject({ exitIndex: 2, prediction: argMax(ref[2]![i]!), macs: total });
      expect(maxRelError(s.probabilities, ref[2]![i]!)).toBeLessThan(1e-5); // softmax output used as is
    });
    // entropy rule: threshold 0 never exits early
    expect(earlyExitPredict(model, x, { rule: 'entropy', threshold: 0 }).exitHistogram).toEqual([0, 0, N]);
    x.dispose();
  });

  it('mixed: exited samples leave the batch, later layers run only on the rest, answers match the full model', async () => {
    await useBackend(backend);
    const model = multiExitModel();
    const x = tensorFrom(randomArray(N * 72, 3), [N, 6, 6, 2]);
    const ref = allExits(model, x);
    const exitOf = (t: number, i: number) => (maxProbability(ref[0]![i]!) >= t ? 0 : maxProbability(ref[1]![i]!) >= t ? 1 : 2);
    const histOf = (t: number) => [0, 1, 2].map((h) => ref[0]!.filter((_, i) => exitOf(t, i) === h).length);
    // the threshold at which the three heads share the samples most evenly
    const minShare = (t: number) => Math.min(...histOf(t));
    const threshold = [...ref[0]!, ...ref[1]!].map(maxProbability).reduce((best, t) => (minShare(t) > minShare(best) ? t : best));
    expect(minShare(threshold)).toBeGreaterThan(0);
    const calls = ['conv2', 'exit1', 'flat', 'final'].map((n) => spy(model, n));
    const before = tf.memory().numTensors;
    const res = earlyExitPredict(model, x, { rule: 'confidence', threshold });
    expect(tf.memory().numTensors).toBe(before);
    const expectedExit = ref[0]!.map((_, i) => exitOf(threshold, i));
    const hist = histOf(threshold);
    expect(res.exitHistogram).toEqual(hist);
    expect(calls).toEqual([[N - hist[0]!], [N - hist[0]!], [hist[2]], [hist[2]]]);
    res.samples.forEach((s, i) => {
      const e = expectedExit[i]!;
      expect(s.exitIndex).toBe(e);
      expect(s.prediction).toBe(argMax(ref[e]![i]!));
      expect(maxRelError(s.probabilities, ref[e]![i]!)).toBeLessThan(1e-5);
      expect(s.macs).toBe(res.exitMacs[e]);
    });
    expect(res.averageMacs).toBeCloseTo(hist.reduce((a, c, h) => a + c * res.exitMacs[h]!, 0) / N, 9);
    expect(res.averageMacs).toBeLessThan(res.worstCaseMacs);

    // sweepThresholds replays the same decisions
    const labels = ref[2]!.map(argMax); // the final head is right by definition here
    const sweep = sweepThresholds(model, x, labels, [0, threshold, 1.01], 'confidence');
    expect(sweep.points.map((p) => p.exitHistogram)).toEqual([[N, 0, 0], hist, [0, 0, N]]);
    expect(sweep.points[1]!.averageMacs).toBeCloseTo(res.averageMacs, 9);
    const correct = res.samples.filter((s, i) => s.prediction === labels[i]).length;
    expect(sweep.points[1]!.accuracy).toBeCloseTo(correct / N, 12);
    expect(sweep.points[2]!.accuracy).toBe(1);
    expect(sweep.headAccuracy[2]).toBe(1);
    expect(sweep.worstCaseMacs).toBe(res.worstCaseMacs);
    x.dispose();
  });

  it('one threshold per exit head: each head decides with its own, as applyThresholds replays', async () => {
    await useBackend(backend);
    const model = multiExitModel();
    const x = tensorFrom(randomArray(N * 72, 5), [N, 6, 6, 2]);
    const ref = allExits(model, x);
    // head 0's median confidence lets about half leave at head 0; head 1 takes every sample left (0)
    const conf0 = ref[0]!.map(maxProbability).sort((a, b) => a - b);
    const thresholds = [conf0[N / 2]!, 0];
    const res = earlyExitPredict(model, x, { rule: 'confidence', threshold: thresholds });
    const expected = ref[0]!.map((p) => (maxProbability(p) >= thresholds[0]! ? 0 : 1));
    expect(res.samples.map((s) => s.exitIndex)).toEqual(expected);
    expect(res.exitHistogram[2]).toBe(0);
    expect(res.exitHistogram[0]).toBeGreaterThan(0);
    expect(res.exitHistogram[1]).toBeGreaterThan(0);
    const labels = ref[2]!.map(argMax);
    const replay = applyThresholds(headProbabilities(model, x, labels), thresholds);
    expect(res.exitHistogram).toEqual(replay.exitHistogram);
    expect(res.averageMacs).toBeCloseTo(replay.averageMacs, 9);
    expect(() => earlyExitPredict(model, x, { rule: 'confidence', threshold: [0.5] })).toThrow(
      'earlyExitPredict: threshold: expected a number or one per exit head (2), got [0.5]',
    );
    x.dispose();
  });

  it('explicit heads: skipped heads are never evaluated', async () => {
    await useBackend(backend);
    const model = multiExitModel();
    const x = tensorFrom(randomArray(N * 72, 4), [N, 6, 6, 2]);
    const exit0 = spy(model, 'exit0');
    const res = earlyExitPredict(model, x, { rule: 'confidence', threshold: 0, heads: ['exit1', 'final'] });
    expect(exit0).toEqual([]);
    expect(res.exitHistogram).toEqual([N, 0]);
    const count = countModel(model).layers;
    expect(res.exitMacs[0]).toBe(['conv1', 'conv2', 'exit1'].reduce((s, n) => s + count.find((l) => l.name === n)!.macs, 0));
    expect(() => earlyExitPredict(model, x, { rule: 'confidence', threshold: 0, heads: ['nope'] })).toThrow(ConfigError);
    expect(() => earlyExitPredict(model, x, { rule: 'confidence', threshold: 0, heads: ['nope'] })).toThrow(
      'earlyExitPredict: heads: expected names of layers in the model, got "nope"',
    );
    x.dispose();
  });
});

describe('earlyExitPredict default heads', () => {
  it('orders exit heads by depth and finds the final classifier whatever the output order', async () => {
    await useBackend('cpu');
    const m = multiExitModel();
    const [e0, e1, final] = m.outputs;
    const reversed = tfl.model({ inputs: m.inputs, outputs: [final!, e1!, e0!] });
    const x = tensorFrom(randomArray(4 * 72, 9), [4, 6, 6, 2]);
    expect(earlyExitPredict(reversed, x, { rule: 'confidence', threshold: 2 }).heads).toEqual(['exit0', 'exit1', 'final']);
    const single = tfl.model({ inputs: m.inputs, outputs: final! });
    const res = earlyExitPredict(single, x, { rule: 'confidence', threshold: 0 });
    expect(res.heads).toEqual(['final']);
    expect(res.exitHistogram).toEqual([4]);
    x.dispose();
  });
});

describe('tuneThresholds', () => {
  it('picks the per-head thresholds with the fewest MACs within maxLoss, as a brute force over model.predict finds', async () => {
    await useBackend('cpu');
    const model = multiExitModel();
    const x = tensorFrom(randomArray(N * 72, 6), [N, 6, 6, 2]);
    const ref = allExits(model, x);
    // labels: the final head's answer for 2 of 3 samples, another class for the rest
    const labels = ref[2]!.map((p, i) => (i % 3 === 2 ? (argMax(p) + 1) % 3 : argMax(p)));
    const candidates = [0.4, 0.5, 0.6, 0.8, Infinity];
    const exitMacs = sweepThresholds(model, x, labels, [], 'confidence').exitMacs;
    const replayed = (t: number[]) => {
      let correct = 0;
      let macs = 0;
      for (let i = 0; i < N; i++) {
        const h = maxProbability(ref[0]![i]!) >= t[0]! ? 0 : maxProbability(ref[1]![i]!) >= t[1]! ? 1 : 2;
        correct += argMax(ref[h]![i]!) === labels[i] ? 1 : 0;
        macs += exitMacs[h]!;
      }
      return { accuracy: correct / N, averageMacs: macs / N };
    };
    const base = replayed([Infinity, Infinity]).accuracy;
    // computed in two chunks and joined: the same as one run
    const [a, b] = [tf.slice(x, 0, 10), tf.slice(x, 10)];
    const probs = concatHeadProbabilities([headProbabilities(model, a, labels.slice(0, 10)), headProbabilities(model, b, labels.slice(10))]);
    expect(probs.labels).toEqual(labels);
    tf.dispose([a, b]);
    for (const maxLoss of [0, 0.05, 0.2]) {
      let best = { t: [Infinity, Infinity], ...replayed([Infinity, Infinity]) };
      for (const a of candidates) for (const b of candidates) {
        const r = replayed([a, b]);
        if (r.accuracy >= base - maxLoss - 1e-12 && r.averageMacs < best.averageMacs) best = { t: [a, b], ...r };
      }
      const got = tuneThresholds(probs, { maxLoss, candidates });
      expect(got.baselineAccuracy).toBeCloseTo(base, 12);
      expect(got.averageMacs).toBeCloseTo(best.averageMacs, 9);
      expect(got.accuracy).toBeGreaterThanOrEqual(base - maxLoss - 1e-12);
      expect(replayed(got.thresholds).averageMacs).toBeCloseTo(got.averageMacs, 9);
      expect(applyThresholds(probs, got.thresholds)).toEqual({ accuracy: got.accuracy, averageMacs: got.averageMacs, exitHistogram: got.exitHistogram });
      expect(got.exitHistogram.reduce((a, b) => a + b, 0)).toBe(N);
    }
    expect(tuneThresholds(probs, { maxLoss: 0.2, candidates }).averageMacs).toBeLessThan(tuneThresholds(probs, { maxLoss: 0, candidates }).averageMacs);
    expect(() => tuneThresholds(probs, { maxLoss: -1 })).toThrow('tuneThresholds: maxLoss: expected an accuracy loss in [0, 1), got -1');
    x.dispose();
  });
});
