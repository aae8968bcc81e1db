import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@tinyblocks/core';
import { BACKENDS, finiteDifferences, maxRelError, randomArray, tensorFrom, useBackend } from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import { crossEntropy, earlyExitLoss, entropy, exitRule, sdnLoss, sdnTauSchedule } from './index.js';

/** Float64 mean softmax cross entropy of logits [B, K] flat against class indices. */
function refCE(logits: ArrayLike<number>, labels: number[], k: number): number {
  let total = 0;
  labels.forEach((y, n) => {
    const row = Array.from({ length: k }, (_, j) => logits[n * k + j]!);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    total += lse - row[y]!;
  });
  return total / labels.length;
}

const K = 4;
const LABELS = [0, 3, 1];
const EXITS = [randomArray(12, 1, -3, 3), randomArray(12, 2, -3, 3), randomArray(12, 3, -3, 3)];

describe.each(BACKENDS)('early-exit losses on %s', (backend) => {
  it('cross entropy, BranchyNet and SDN losses equal the float64 reference (int and one-hot labels)', async () => {
    await useBackend(backend);
    const ce = EXITS.map((l) => refCE(l, LABELS, K));
    tf.tidy(() => {
      const logits = EXITS.map((l) => tensorFrom(l, [3, K]));
      const oneHot = tf.oneHot(tf.tensor1d(LABELS, 'int32'), K);
      expect(crossEntropy(logits[0]!, LABELS).dataSync()[0]).toBeCloseTo(ce[0]!, 5);
      expect(crossEntropy(logits[0]!, oneHot).dataSync()[0]).toBeCloseTo(ce[0]!, 5);
      expect(earlyExitLoss(logits, LABELS).dataSync()[0]).toBeCloseTo(ce[0]! + ce[1]! + ce[2]!, 5);
      expect(earlyExitLoss(logits, oneHot, { weights: [0.5, 2, 1] }).dataSync()[0]).toBeCloseTo(0.5 * ce[0]! + 2 * ce[1]! + ce[2]!, 5);
      expect(sdnLoss(logits, LABELS, [0.3, 0.6]).dataSync()[0]).toBeCloseTo(0.3 * ce[0]! + 0.6 * ce[1]! + ce[2]!, 5);
    });
  });

  it('the gradient of the SDN loss wrt every exit equals finite differences', async () => {
    await useBackend(backend);
    const taus = [0.3, 0.6];
    const grads = tf.tidy(() => {
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => sdnLoss([a, b, c], LABELS, taus);
      return tf.grads(f)(EXITS.map((l) => tensorFrom(l, [3, K]))).map((g) => g.dataSync());
    });
    const ref = (p: Float64Array[]) => taus[0]! * refCE(p[0]!, LABELS, K) + taus[1]! * refCE(p[1]!, LABELS, K) + refCE(p[2]!, LABELS, K);
    const fd = finiteDifferences(ref, EXITS);
    grads.forEach((g, i) => expect(maxRelError(g, fd[i]!)).toBeLessThan(1e-4));
  });
});

describe('SDN tau schedule, exit rules and errors', () => {
  it('ramps tau linearly from 0.01 to its final value (SDN reference code)', () => {
    const finals = [0.15, 0.3, 0.9];
    expect(sdnTauSchedule(0, 10, finals)).toEqual([0.01, 0.01, 0.01]);
    sdnTauSchedule(5, 10, finals).forEach((t, i) => expect(t).toBeCloseTo(0.01 + finals[i]! / 2, 12));
    expect(sdnTauSchedule(10, 10, finals)).toEqual(finals);
    expect(sdnTauSchedule(12, 10, finals)).toEqual(finals);
  });

  it('confidence exits when max p >= threshold, entropy when H(p) < threshold', () => {
    const p = [0.7, 0.2, 0.1];
    const h = -(0.7 * Math.log(0.7) + 0.2 * Math.log(0.2) + 0.1 * Math.log(0.1));
    expect(entropy(p)).toBeCloseTo(h, 12);
    expect(exitRule({ rule: 'confidence', threshold: 0.7 })(p)).toBe(true);
    expect(exitRule({ rule: 'confidence', threshold: 0.71 })(p)).toBe(false);
    expect(exitRule({ rule: 'confidence', threshold: 0 })([1 / 3, 1 / 3, 1 / 3])).toBe(true);
    expect(exitRule({ rule: 'entropy', threshold: h + 1e-9 })(p)).toBe(true);
    expect(exitRule({ rule: 'entropy', threshold: h })(p)).toBe(false);
    expect(exitRule({ rule: 'entropy', threshold: 0 })([1, 0, 0])).toBe(false);
  });

  it('throws typed errors naming op, field, expected and got', async () => {
    await useBackend('cpu');
    expect(() => exitRule({ rule: 'margin' as never, threshold: 0.5 })).toThrow(ConfigError);
    expect(() => exitRule({ rule: 'margin' as never, threshold: 0.5 })).toThrow(
      `exitRule: rule: expected one of 'confidence', 'entropy', got "margin"`,
    );
    expect(() => exitRule({ rule: 'entropy', threshold: Number.NaN })).toThrow('exitRule: threshold: expected a finite number, got NaN');
    const logits = [tf.zeros([3, K]), tf.zeros([3, K])];
    expect(() => earlyExitLoss(logits, LABELS, { weights: [1] })).toThrow('earlyExitLoss: weights: expected 2 finite numbers >= 0, got [1]');
    expect(() => sdnLoss(logits, LABELS, [0.1, 0.2])).toThrow('sdnLoss: taus: expected 1 finite numbers >= 0, got [0.1, 0.2]');
    expect(() => earlyExitLoss([], LABELS)).toThrow(ConfigError);
    expect(() => crossEntropy(logits[0]!, tf.zeros([3, 5]))).toThrow('crossEntropy: labels: expected class indices [B] or one-hot [B, 4], got [3, 5]');
    tf.dispose(logits);
  });
});
