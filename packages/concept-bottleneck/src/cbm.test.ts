import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, ShapeError, collectAuxLosses, countModel } from '@tinyblocks/core';
import {
  BACKENDS,
  finiteDifferences,
  maxRelError,
  predictBoth,
  randomArray,
  roundTrip,
  tensorFrom,
  useBackend,
} from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import {
  ConceptBottleneck,
  classLoss,
  conceptBottleneck,
  conceptBottleneckOp,
  conceptLoss,
  intervene,
  jointLoss,
  type Interventions,
} from './index.js';

// ---------- independent float64 reference (blocks.md "Concept bottleneck") ----------
interface Ref {
  B: number; D: number; k: number; C: number;
  x: ArrayLike<number>; wc: ArrayLike<number>; bc: ArrayLike<number>; wh: ArrayLike<number>; bh: ArrayLike<number>;
}
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function refForward(r: Ref, interventions: Interventions = {}) {
  const concepts = new Float64Array(r.B * r.k);
  const logits = new Float64Array(r.B * r.C);
  for (let b = 0; b < r.B; b++) {
    for (let j = 0; j < r.k; j++) {
      let z = r.bc[j]!;
      for (let d = 0; d < r.D; d++) z += r.x[b * r.D + d]! * r.wc[d * r.k + j]!;
      concepts[b * r.k + j] = j in interventions ? interventions[j]! : sigmoid(z);
    }
    for (let c = 0; c < r.C; c++) {
      let y = r.bh[c]!;
      for (let j = 0; j < r.k; j++) y += concepts[b * r.k + j]! * r.wh[j * r.C + c]!;
      logits[b * r.C + c] = y;
    }
  }
  return { logits, concepts };
}

/** CE(softmax(logits), labels) + lambda * sum_j BCE(c_hat_j, c_j), both averaged over the batch. */
function refJointLoss(r: Ref, labels: number[], cTrue: ArrayLike<number>, lambda: number): number {
  const { logits, concepts } = refForward(r);
  let loss = 0;
  for (let b = 0; b < r.B; b++) {
    const row = Array.from(logits.subarray(b * r.C, (b + 1) * r.C));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    loss += lse - row[labels[b]!]!;
    for (let j = 0; j < r.k; j++) {
      const p = concepts[b * r.k + j]!;
      const c = cTrue[b * r.k + j]!;
      loss -= lambda * (c * Math.log(p) + (1 - c) * Math.log(1 - p));
    }
  }
  return loss / r.B;
}

// ---------- fixtures ----------
const B = 6, D = 5, K = 4, C = 3;
function randomRef(seed: number): Ref {
  return {
    B, D, k: K, C,
    x: randomArray(B * D, seed, -1.5, 1.5),
    wc: randomArray(D * K, seed + 1, -1, 1),
    bc: randomArray(K, seed + 2, -0.5, 0.5),
    wh: randomArray(K * C, seed + 3, -1.5, 1.5),
    bh: randomArray(C, seed + 4, -0.5, 0.5),
  };
}

function buildModel(r: Ref, args: Partial<ConstructorParameters<typeof ConceptBottleneck>[0]> = {}) {
  const input = tfl.input({ shape: [r.D] });
  const layer = conceptBottleneck({ name: 'cbm', numConcepts: r.k, numClasses: r.C, seed: 3, ...args });
  const [logits, concepts] = layer.apply(input) as tfl.SymbolicTensor[];
  const model = tfl.model({ inputs: input, outputs: [logits!, concepts!] });
  // by name: tf.layers lists trainable weights first, so freezing a part changes the order
  const byName: Record<string, tf.Tensor> = {
    concept_kernel: tensorFrom(r.wc, [r.D, r.k]),
    concept_bias: tensorFrom(r.bc, [r.k]),
    head_kernel: tensorFrom(r.wh, [r.k, r.C]),
    head_bias: tensorFrom(r.bh, [r.C]),
  };
  for (const w of layer.weights) w.write(byName[w.name.replace(/^cbm\//, '').replace(/_\d+$/, '')]!);
  tf.dispose(Object.values(byName));
  return { model, layer };
}

const values = (t: tf.Tensor) => Array.from(t.dataSync());
/** Weight names without the suffix tfjs adds to keep variable names unique across tests. */
const weightNames = (ws: Array<{ name: string }>) => ws.map((w) => w.name.replace(/_\d+$/, ''));
const snapshot = (layer: ConceptBottleneck) => {
  const p = layer.params();
  return { concepts: [...p.conceptKernel, ...p.conceptBias], head: [...p.headKernel, ...p.headBias] };
};
const varList = (model: tfl.LayersModel) => model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);

/** A synthetic problem whose classes follow from its concepts: c_j = [x . a_j > 0], y = argmax(c M). */
function synthetic(n: number, seed: number) {
  const x = randomArray(n * D, seed, -1, 1);
  const a = randomArray(D * K, seed + 1, -1, 1);
  const m = randomArray(K * C, seed + 2, -1, 1);
  const c = new Float32Array(n * K);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < K; j++) {
      let z = 0;
      for (let d = 0; d < D; d++) z += x[i * D + d]! * a[d * K + j]!;
      c[i * K + j] = z > 0 ? 1 : 0;
    }
    let best = 0, bestV = -Infinity;
    for (let cl = 0; cl < C; cl++) {
      let v = 0;
      for (let j = 0; j < K; j++) v += c[i * K + j]! * m[j * C + cl]!;
      if (v > bestV) [best, bestV] = [cl, v];
    }
    y[i] = best;
  }
  return { x: tensorFrom(x, [n, D]), c: tf.tensor2d(c, [n, K]), y: tf.tensor1d(y, 'int32') };
}

function train(varsFn: () => tf.Variable[] | undefined, loss: () => tf.Scalar, steps: number, lr = 0.05) {
  const opt = tf.train.adam(lr);
  const before = tf.tidy(() => loss().dataSync()[0]!);
  for (let i = 0; i < steps; i++) tf.tidy(() => void opt.minimize(loss, false, varsFn()));
  const after = tf.tidy(() => loss().dataSync()[0]!);
  opt.dispose();
  return { before, after };
}

describe.each(BACKENDS)('ConceptBottleneck on %s', (backend) => {
  it('forward (layer and op) equals the float64 reference', async () => {
    await useBackend(backend);
    const r = randomRef(10);
    const { model } = buildModel(r);
    const ref = refForward(r);
    const [logits, concepts] = tf.tidy(() => (model.predict(tensorFrom(r.x, [B, D])) as tf.Tensor[]).map(values));
    expect(maxRelError(logits!, ref.logits)).toBeLessThan(1e-5);
    expect(maxRelError(concepts!, ref.concepts)).toBeLessThan(1e-5);
    const op = tf.tidy(() => {
      const out = conceptBottleneckOp(tensorFrom(r.x, [B, D]), {
        conceptKernel: tensorFrom(r.wc, [D, K]),
        conceptBias: tensorFrom(r.bc, [K]),
        headKernel: tensorFrom(r.wh, [K, C]),
        headBias: tensorFrom(r.bh, [C]),
      });
      return [values(out.logits), values(out.concepts)];
    });
    expect(maxRelError(op[0]!, ref.logits)).toBeLessThan(1e-5);
    expect(maxRelError(op[1]!, ref.concepts)).toBeLessThan(1e-5);
  });

  it('gradients of the joint loss for x and all four weights equal finite differences', async () => {
    await useBackend(backend);
    const r = randomRef(20);
    const labels = [0, 2, 1, 1, 0, 2];
    const cTrue = Float64Array.from({ length: B * K }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
    const lambda = 0.7;
    const grads = tf.tidy(() => {
      const f = (x: tf.Tensor, wc: tf.Tensor, bc: tf.Tensor, wh: tf.Tensor, bh: tf.Tensor) => {
        const out = conceptBottleneckOp(x, { conceptKernel: wc, conceptBias: bc, headKernel: wh, headBias: bh });
        return jointLoss(out.logits, tf.tensor1d(labels, 'int32'), out.concepts, tensorFrom(cTrue, [B, K]), lambda);
      };
      const inputs = [
        tensorFrom(r.x, [B, D]), tensorFrom(r.wc, [D, K]), tensorFrom(r.bc, [K]), tensorFrom(r.wh, [K, C]), tensorFrom(r.bh, [C]),
      ];
      return tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)(inputs).map(values);
    });
    const numeric = finiteDifferences(
      ([x, wc, bc, wh, bh]) => refJointLoss({ B, D, k: K, C, x: x!, wc: wc!, bc: bc!, wh: wh!, bh: bh! }, labels, cTrue, lambda),
      [r.x, r.wc, r.bc, r.wh, r.bh].map((a) => Float64Array.from(a)),
    );
    grads.forEach((g, i) => expect(maxRelError(g, numeric[i]!)).toBeLessThan(1e-4));
    // the loss value itself
    const value = tf.tidy(() => {
      const out = conceptBottleneckOp(tensorFrom(r.x, [B, D]), {
        conceptKernel: tensorFrom(r.wc, [D, K]), conceptBias: tensorFrom(r.bc, [K]),
        headKernel: tensorFrom(r.wh, [K, C]), headBias: tensorFrom(r.bh, [C]),
      });
      const yOneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), C);
      return [
        jointLoss(out.logits, yOneHot, out.concepts, tensorFrom(cTrue, [B, K]), lambda).dataSync()[0]!,
        classLoss(out.logits, yOneHot).dataSync()[0]! + lambda * conceptLoss(out.concepts, tensorFrom(cTrue, [B, K])).dataSync()[0]!,
      ];
    });
    expect(value[0]).toBeCloseTo(refJointLoss(r, labels, cTrue, lambda), 5);
    expect(value[1]).toBeCloseTo(value[0]!, 5);
  });

  it('the Sparse CBM L1 term is an aux loss of training calls with gradient conceptL1 * sign(Wc)', async () => {
    await useBackend(backend);
    const r = randomRef(30);
    const { layer } = buildModel(r, { conceptL1: 0.01 });
    tf.tidy(() => void layer.apply(tensorFrom(r.x, [B, D])));
    expect(layer.takeAuxLoss()).toBeNull(); // inference calls record nothing
    const wc = (layer.trainableWeights[0] as unknown as { val: tf.Variable }).val;
    const { value, grads } = tf.tidy(() =>
      tf.variableGrads(() => {
        layer.apply(tensorFrom(r.x, [B, D]), { training: true });
        return layer.takeAuxLoss()!;
      }, [wc]),
    );
    expect(value.dataSync()[0]).toBeCloseTo(0.01 * Array.from(r.wc).reduce((s, v) => s + Math.abs(v), 0), 5);
    expect(maxRelError(values(grads[wc.name]!), Array.from(r.wc, (v) => 0.01 * Math.sign(v)))).toBeLessThan(1e-6);
    tf.dispose([value, grads[wc.name]!]);
    expect(layer.takeAuxLoss()).toBeNull();
  });

  it('joint training lowers CE + lambda * BCE (+ L1 aux loss)', async () => {
    await useBackend(backend);
    const data = synthetic(64, 40);
    const { model } = buildModel(randomRef(41), { conceptL1: 1e-3, lambda: 0.5 });
    const layer = model.getLayer('cbm') as ConceptBottleneck;
    const loss = () => {
      const [logits, concepts] = model.apply(data.x, { training: true }) as tf.Tensor[];
      const aux = collectAuxLosses(model);
      const l = layer.jointLoss(logits!, data.y, concepts!, data.c);
      return (aux ? tf.add(l, aux) : l) as tf.Scalar;
    };
    tf.tidy(() => {
      model.apply(data.x, { training: true });
      const aux = collectAuxLosses(model);
      expect(aux?.dataSync()[0]).toBeCloseTo(1e-3 * layer.params().conceptKernel.reduce((s, v) => s + Math.abs(v), 0), 5);
    });
    const { before, after } = train(() => varList(model), loss, 40);
    expect(after).toBeLessThan(before * 0.8);
    tf.dispose([data.x, data.y, data.c]);
  });

  it('sequential training: concepts first, then the head on frozen predicted concepts', async () => {
    await useBackend(backend);
    const data = synthetic(64, 50);
    const { model, layer } = buildModel(randomRef(51));
    layer.setTrainableParts({ concepts: true, head: false });
    expect(weightNames(model.trainableWeights)).toEqual(['cbm/concept_kernel', 'cbm/concept_bias']);
    let s0 = snapshot(layer);
    const stage1 = train(() => varList(model), () => conceptLoss((model.apply(data.x, { training: true }) as tf.Tensor[])[1]!, data.c), 40);
    expect(stage1.after).toBeLessThan(stage1.before * 0.8);
    let s1 = snapshot(layer);
    expect(s1.head).toEqual(s0.head);
    expect(s1.concepts).not.toEqual(s0.concepts);

    layer.setTrainableParts({ concepts: false, head: true });
    expect(weightNames(model.trainableWeights)).toEqual(['cbm/head_kernel', 'cbm/head_bias']);
    s0 = s1;
    // no varList: the optimizer takes every trainable variable, and the frozen ones are not
    const stage2 = train(() => undefined, () => classLoss((model.apply(data.x, { training: true }) as tf.Tensor[])[0]!, data.y), 40);
    expect(stage2.after).toBeLessThan(stage2.before * 0.8);
    s1 = snapshot(layer);
    expect(s1.concepts).toEqual(s0.concepts);
    expect(s1.head).not.toEqual(s0.head);
    // layer.trainable freezes everything and restores the parts' settings
    layer.trainable = false;
    expect(model.trainableWeights).toHaveLength(0);
    layer.setTrainableParts({ concepts: true });
    expect(layer.weights.some((w) => w.trainable)).toBe(false);
    layer.trainable = true;
    expect(weightNames(model.trainableWeights)).toEqual(['cbm/concept_kernel', 'cbm/concept_bias', 'cbm/head_kernel', 'cbm/head_bias']);
    expect(layer.trainableParts()).toEqual({ concepts: true, head: true });
    tf.dispose([data.x, data.y, data.c]);
  });

  it('independent training: the head on TRUE concepts (headOnly), the concept part unchanged', async () => {
    await useBackend(backend);
    const data = synthetic(64, 60);
    const { model, layer } = buildModel(randomRef(61));
    layer.setTrainableParts({ concepts: false });
    const s0 = snapshot(layer);
    const { before, after } = train(() => varList(model), () => classLoss(layer.headOnly(data.c), data.y), 40);
    expect(after).toBeLessThan(before * 0.8);
    const s1 = snapshot(layer);
    expect(s1.concepts).toEqual(s0.concepts);
    expect(s1.head).not.toEqual(s0.head);
    // headOnly is the linear head c Wh + bh on the given concept values
    const cVals = randomArray(B * K, 63, 0, 1);
    const viaHead = tf.tidy(() => values(layer.headOnly(tensorFrom(cVals, [B, K]))));
    const p = layer.params();
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        let y = p.headBias[c]!;
        for (let j = 0; j < K; j++) y += cVals[b * K + j]! * p.headKernel[j * C + c]!;
        expect(viaHead[b * C + c]).toBeCloseTo(y, 5);
      }
    }
    tf.dispose([data.x, data.y, data.c]);
  });

  it('interventions overwrite concepts and recompute logits exactly as the reference', async () => {
    await useBackend(backend);
    const r = randomRef(70);
    const { model, layer } = buildModel(r);
    const iv = { 1: 1, 3: 0 };
    const ref = refForward(r, iv);
    const x = tensorFrom(r.x, [B, D]);
    layer.setInterventions(iv);
    expect(layer.getInterventions()).toEqual(iv);
    const [logits, concepts] = tf.tidy(() => (model.predict(x) as tf.Tensor[]).map(values));
    expect(maxRelError(logits!, ref.logits)).toBeLessThan(1e-5);
    expect(maxRelError(concepts!, ref.concepts)).toBeLessThan(1e-5);
    expect(maxRelError(logits!, refForward(r).logits)).toBeGreaterThan(1e-3); // it did change something
    layer.setInterventions(null);
    const plain = tf.tidy(() => values((model.predict(x) as tf.Tensor[])[0]!));
    expect(maxRelError(plain, refForward(r).logits)).toBeLessThan(1e-5);

    // functional form and the model-level helper (which restores the layer afterwards)
    const iv2 = { 0: 0.25, 2: 1 };
    const ref2 = refForward(r, iv2);
    const op = tf.tidy(() => values(conceptBottleneckOp(x, layer.weightTensors(), { interventions: iv2 }).logits));
    expect(maxRelError(op, ref2.logits)).toBeLessThan(1e-5);
    layer.setInterventions({ 3: 1 });
    const live = tf.memory().numTensors;
    const out = intervene(model, x, iv2);
    expect(tf.memory().numTensors).toBe(live + 2); // only the two returned tensors
    expect(maxRelError(values(out.logits), ref2.logits)).toBeLessThan(1e-5);
    expect(maxRelError(values(out.concepts), ref2.concepts)).toBeLessThan(1e-5);
    expect(layer.getInterventions()).toEqual({ 3: 1 });
    tf.dispose([out.logits, out.concepts, x]);
    layer.setInterventions(null);
  });

  it('save -> load gives identical outputs and keeps the configuration', async () => {
    await useBackend(backend);
    const r = randomRef(80);
    const { model } = buildModel(r, { conceptL1: 0.002, lambda: 0.01, trainableParts: { concepts: false, head: true } });
    const loaded = await roundTrip(model);
    const x = tensorFrom(r.x, [B, D]);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(a.length).toBe(B * (C + K));
    const l = loaded.getLayer('cbm') as ConceptBottleneck;
    expect(l).toBeInstanceOf(ConceptBottleneck);
    expect([l.numConcepts, l.numClasses, l.conceptL1, l.lambda]).toEqual([K, C, 0.002, 0.01]);
    // trainable weights first: the frozen concept part comes last
    expect(weightNames(l.weights)).toEqual(['cbm/head_kernel', 'cbm/head_bias', 'cbm/concept_kernel', 'cbm/concept_bias']);
    expect(l.trainableParts()).toEqual({ concepts: false, head: true });
    expect(weightNames(l.trainableWeights)).toEqual(['cbm/head_kernel', 'cbm/head_bias']);
    x.dispose();
  });
});

describe('ConceptBottleneck configuration, params and counting', () => {
  const where = "ConceptBottleneck 'cbm'";

  it('bad configuration and inputs are typed errors naming layer, field, expected and got', () => {
    expect(() => conceptBottleneck({ name: 'cbm', numConcepts: 0, numClasses: 3 })).toThrow(ConfigError);
    expect(() => conceptBottleneck({ name: 'cbm', numConcepts: 0, numClasses: 3 })).toThrow(`${where}: numConcepts: expected an integer > 0, got 0`);
    expect(() => conceptBottleneck({ name: 'cbm', numConcepts: -2, numClasses: 3 })).toThrow(`${where}: numConcepts: expected an integer > 0, got -2`);
    expect(() => conceptBottleneck({ name: 'cbm', numConcepts: 4, numClasses: 2.5 })).toThrow(`${where}: numClasses: expected an integer > 0, got 2.5`);
    expect(() => conceptBottleneck({ name: 'cbm', numConcepts: 4, numClasses: 3, conceptL1: -1 })).toThrow(`${where}: conceptL1: expected a number >= 0, got -1`);

    const rank3 = conceptBottleneck({ name: 'cbm', numConcepts: 4, numClasses: 3 });
    expect(() => rank3.apply(tfl.input({ shape: [4, 3] }))).toThrow(ShapeError);
    expect(() => rank3.apply(tfl.input({ shape: [4, 3] }))).toThrow(`${where}: input: expected rank 2, got "rank 3 (shape [?, 4, 3])"`);

    const layer = conceptBottleneck({ name: 'cbm', numConcepts: 4, numClasses: 3 });
    layer.apply(tfl.input({ shape: [5] }));
    expect(() => layer.apply(tf.zeros([2, 6]))).toThrow(ShapeError);
    expect(() => layer.apply(tf.zeros([2, 6]))).toThrow(`${where}: input: expected 5 features (the layer was built for [batch, 5]), got "6 (shape [2, 6])"`);
    expect(() => layer.apply(tfl.input({ shape: [7] }))).toThrow(`${where}: input: expected 5 features`);
    expect(() => layer.headOnly(tf.zeros([2, 5]))).toThrow(`${where}: concepts: expected 4 concepts in the last axis, got "5 (shape [2, 5])"`);

    expect(() => layer.setInterventions({ 4: 1 })).toThrow(ConfigError);
    expect(() => layer.setInterventions({ 4: 1 })).toThrow(`${where}: interventions: expected concept indices in 0..3, got 4`);
    expect(() => layer.setInterventions({ [-1]: 1 })).toThrow(`${where}: interventions: expected concept indices in 0..3, got "-1"`);
    expect(() => layer.setInterventions({ 2: 1.5 })).toThrow(`${where}: interventions[2]: expected a value in [0, 1], got 1.5`);
    expect(() => layer.setInterventions({ 2: Number.NaN })).toThrow(`${where}: interventions[2]: expected a value in [0, 1], got NaN`);
    expect(layer.getInterventions()).toBeNull(); // a rejected map leaves the layer unchanged

    const w = { conceptKernel: tf.zeros([5, 4]), conceptBias: tf.zeros([4]), headKernel: tf.zeros([4, 3]), headBias: tf.zeros([3]) };
    expect(() => conceptBottleneckOp(tf.zeros([2, 5]), w, { interventions: { 9: 0 } })).toThrow(
      'conceptBottleneckOp: interventions: expected concept indices in 0..3, got 9',
    );
    expect(() => conceptBottleneckOp(tf.zeros([2, 3, 5]), w)).toThrow('conceptBottleneckOp: x: expected rank 2 [batch, features]');
    const input = tfl.input({ shape: [5] });
    const noCbm = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
    expect(() => intervene(noCbm, tf.zeros([1, 5]), { 0: 1 })).toThrow(
      'intervene: layerName: expected a model with exactly one ConceptBottleneck layer (or pass layerName), got "0 ConceptBottleneck layers []"',
    );
  });

  it('params() returns the weights as arrays; MACs = D*k + k*C; registered as tinyblocks>ConceptBottleneck', () => {
    const input = tfl.input({ shape: [12] });
    const layer = conceptBottleneck({ name: 'cbm', numConcepts: 8, numClasses: 10, seed: 1 });
    const out = layer.apply(input) as tfl.SymbolicTensor[];
    expect(out.map((t) => t.shape)).toEqual([[null, 10], [null, 8]]);
    const model = tfl.model({ inputs: input, outputs: out });
    const p = layer.params();
    expect([p.inputDim, p.numConcepts, p.numClasses]).toEqual([12, 8, 10]);
    expect([p.conceptKernel.length, p.conceptBias.length, p.headKernel.length, p.headBias.length]).toEqual([96, 8, 80, 10]);
    expect(countModel(model).totalMacs).toBe(12 * 8 + 8 * 10);
    expect(countModel(model).totalParams).toBe(96 + 8 + 80 + 10);
    expect(tf.serialization.getRegisteredName(ConceptBottleneck)).toBe('tinyblocks>ConceptBottleneck');
    // same seed, same initial weights
    const again = conceptBottleneck({ numConcepts: 8, numClasses: 10, seed: 1 });
    again.apply(tfl.input({ shape: [12] }));
    expect(Array.from(again.params().conceptKernel)).toEqual(Array.from(p.conceptKernel));
  });
});
