import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError } from '@tinyblocks/core';
import { BACKENDS, maxRelError, predictBoth, randomArray, roundTrip, tensorFrom, useBackend } from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import { ConceptBottleneck, conceptBottleneck } from './index.js';

const D = 5, K = 3, C = 4, B = 6;

/** Plain float64 logit bottleneck: the head reads z = x Wc + bc (with overwritten entries). */
function reference(x: Float64Array, p: ReturnType<ConceptBottleneck['params']>, overwrite: Record<number, number> = {}) {
  const logits: number[] = [], concepts: number[] = [];
  for (let b = 0; b < B; b++) {
    const z = Array.from({ length: K }, (_, j) => {
      let s = p.conceptBias[j]!;
      for (let i = 0; i < D; i++) s += x[b * D + i]! * p.conceptKernel[i * K + j]!;
      return overwrite[j] ?? s;
    });
    z.forEach((v) => concepts.push(1 / (1 + Math.exp(-v))));
    for (let c = 0; c < C; c++) {
      let s = p.headBias[c]!;
      for (let j = 0; j < K; j++) s += z[j]! * p.headKernel[j * C + c]!;
      logits.push(s);
    }
  }
  return { logits, concepts };
}

describe.each(BACKENDS)('logit bottleneck on %s', (backend) => {
  it('the head reads concept logits; interventions write the calibrated percentiles', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: [D] });
    const layer = conceptBottleneck({ numConcepts: K, numClasses: C, bottleneck: 'logit', seed: 3 });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor[] });
    const xs = randomArray(B * D, 11);
    const x = tensorFrom(xs, [B, D]);
    const ref = reference(xs, layer.params());
    const [logits, concepts] = (model.predict(x) as tf.Tensor[]).map((t) => t.dataSync());
    expect(maxRelError(logits!, ref.logits)).toBeLessThan(1e-5);
    expect(maxRelError(concepts!, ref.concepts)).toBeLessThan(1e-5);

    // 5th / 95th percentile of each concept's logits over the given features
    const pairs = layer.calibrateInterventionLogits(x as tf.Tensor2D);
    const z = tf.tidy(() => tf.add(tf.matMul(x, tf.tensor2d(layer.params().conceptKernel, [D, K])), tf.tensor1d(layer.params().conceptBias)).arraySync() as number[][]);
    const col0 = z.map((r) => r[0]!).sort((a, b) => a - b);
    expect(pairs[0]![0]).toBeCloseTo(col0[0]!, 5); // round(0.05 * 5) = 0
    expect(pairs[0]![1]).toBeCloseTo(col0[5]!, 5); // round(0.95 * 5) = 5

    layer.setInterventions({ 1: 1 });
    const [li] = (model.predict(x) as tf.Tensor[]).map((t) => t.dataSync());
    expect(maxRelError(li!, reference(xs, layer.params(), { 1: pairs[1]![1] }).logits)).toBeLessThan(1e-5);
    layer.setInterventions(null);

    const loaded = await roundTrip(model);
    const reloaded = loaded.layers[1] as ConceptBottleneck;
    expect(reloaded.bottleneck).toBe('logit');
    expect(reloaded.getInterventionLogits()).toEqual(pairs);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
  });
});

describe('logit bottleneck configuration', () => {
  it('rejects an unknown bottleneck and malformed intervention logits', () => {
    expect(() => conceptBottleneck({ name: 'cbm', numConcepts: 2, numClasses: 3, bottleneck: 'soft' as never })).toThrow(
      `ConceptBottleneck 'cbm': bottleneck: expected one of 'probability', 'logit', got "soft"`,
    );
    expect(() =>
      conceptBottleneck({ name: 'cbm', numConcepts: 2, numClasses: 3, bottleneck: 'logit', interventionLogits: [[1, 0], [0, 1]] }),
    ).toThrow(ConfigError);
  });
});
