/**
 * Training objectives for multi-exit networks.
 *   BranchyNet: L = sum_i w_i * CE_i             (equal weights by default)
 *   SDN:        L = sum_{i<last} tau_i * CE_i + CE_final,  tau ramped up over training
 * CE = mean over the batch of -sum_k y_k * log softmax(logits)_k.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@tinyblocks/core';

/** Labels as class indices [B] (tensor or array) or one-hot / soft targets [B, K]. */
export type Labels = tf.Tensor | ArrayLike<number>;

function targets(labels: Labels, numClasses: number, op: string): tf.Tensor {
  const t = labels instanceof tf.Tensor ? labels : tf.tensor1d(Array.from(labels), 'float32');
  if (t.rank === 1) return tf.oneHot(tf.cast(t, 'int32'), numClasses);
  if (t.rank === 2 && t.shape[1] === numClasses) return tf.cast(t, 'float32');
  throw new ShapeError({ op }, 'labels', `class indices [B] or one-hot [B, ${numClasses}]`, t.shape);
}

/** Mean softmax cross entropy of logits [B, K]. */
export function crossEntropy(logits: tf.Tensor, labels: Labels): tf.Scalar {
  return tf.tidy(() => {
    const y = targets(labels, logits.shape[logits.rank - 1]!, 'crossEntropy');
    return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), -1))) as tf.Scalar;
  });
}

function requireExits(op: string, logitsPerExit: tf.Tensor[]): void {
  if (!Array.isArray(logitsPerExit) || logitsPerExit.length === 0) {
    throw new ConfigError({ op }, 'logitsPerExit', 'a non-empty array of logits tensors (last = final)', logitsPerExit);
  }
}

function requireWeights(op: string, field: string, w: unknown, n: number): number[] {
  if (!Array.isArray(w) || w.length !== n || !w.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
    throw new ConfigError({ op }, field, `${n} finite numbers >= 0`, w);
  }
  return w as number[];
}

/** BranchyNet joint loss: sum_i weights[i] * CE(logitsPerExit[i]); weights default to 1. */
export function earlyExitLoss(logitsPerExit: tf.Tensor[], labels: Labels, options: { weights?: number[] } = {}): tf.Scalar {
  requireExits('earlyExitLoss', logitsPerExit);
  const n = logitsPerExit.length;
  const w = requireWeights('earlyExitLoss', 'weights', options.weights ?? new Array<number>(n).fill(1), n);
  return tf.tidy(() => tf.addN(logitsPerExit.map((l, i) => tf.mul(crossEntropy(l, labels), w[i]!))) as tf.Scalar);
}

/** SDN loss: sum_i taus[i] * CE_i over the internal exits + CE_final (taus: one per internal exit). */
export function sdnLoss(logitsPerExit: tf.Tensor[], labels: Labels, taus: number[]): tf.Scalar {
  requireExits('sdnLoss', logitsPerExit);
  const t = requireWeights('sdnLoss', 'taus', taus, logitsPerExit.length - 1);
  return earlyExitLoss(logitsPerExit, labels, { weights: [...t, 1] });
}

/**
 * SDN's tau ramp (Kaya et al. reference code): tau_i = min(final_i, 0.01 + epoch * final_i / epochs),
 * epochs counted from 1 (epoch 0 gives 0.01). SDN's finals were 0.15, 0.3, ..., 0.9 for 6 exits.
 */
export function sdnTauSchedule(epoch: number, epochs: number, finalTaus: number[]): number[] {
  if (!Number.isInteger(epochs) || epochs <= 0) throw new ConfigError({ op: 'sdnTauSchedule' }, 'epochs', 'an integer > 0', epochs);
  if (!Number.isFinite(epoch) || epoch < 0) throw new ConfigError({ op: 'sdnTauSchedule' }, 'epoch', 'a number >= 0', epoch);
  const finals = requireWeights('sdnTauSchedule', 'finalTaus', finalTaus, Array.isArray(finalTaus) ? finalTaus.length : 0);
  return finals.map((f) => Math.min(f, 0.01 + (epoch * f) / epochs));
}

/** Class indices of labels given as indices or one-hot rows. */
export function labelIndices(labels: Labels): Int32Array {
  if (!(labels instanceof tf.Tensor)) return Int32Array.from(labels);
  if (labels.rank === 1) return Int32Array.from(labels.dataSync());
  return tf.tidy(() => Int32Array.from(tf.argMax(labels, -1).dataSync()));
}
