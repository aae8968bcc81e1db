/**
 * Concept bottleneck (Koh et al., 2020), functional form on tfjs-core:
 *
 *   c_hat  = sigmoid(x Wc + bc)            k concepts in (0, 1)
 *   c'     = c_hat with intervened concepts overwritten by given values (test time)
 *   logits = c' Wh + bh                    linear head
 *
 * Losses (means over the batch):
 *   classLoss   = CE(softmax(logits), y)
 *   conceptLoss = sum_j BCE(c_hat_j, c_j)
 *   jointLoss   = classLoss + lambda * conceptLoss
 * Every op used (matMul, sigmoid, logSoftmax, ...) has gradients on the cpu and wasm backends.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, shapeText, type Where } from '@tinyblocks/core';

export const CBM_DEFAULT_LAMBDA = 1.0;
/** Probabilities are clipped to [eps, 1 - eps] inside the BCE log. */
export const BCE_EPS = 1e-7;

export interface CbmParams {
  /** [D, k] */
  conceptKernel: tf.Tensor;
  /** [k] */
  conceptBias: tf.Tensor;
  /** [k, numClasses] */
  headKernel: tf.Tensor;
  /** [numClasses] */
  headBias: tf.Tensor;
}

/** Concept index -> value in [0, 1] that replaces the predicted concept. */
export type Interventions = Record<number, number>;

/** Checks an intervention map against k concepts; returns [mask, values] arrays of length k. */
export function interventionArrays(where: Where, interventions: Interventions, k: number): [Float32Array, Float32Array] {
  if (typeof interventions !== 'object' || interventions === null || Array.isArray(interventions)) {
    throw new ConfigError(where, 'interventions', 'an object {conceptIndex: value} or null', interventions);
  }
  const mask = new Float32Array(k);
  const values = new Float32Array(k);
  for (const [key, value] of Object.entries(interventions)) {
    const j = Number(key);
    if (!Number.isInteger(j) || j < 0 || j >= k) {
      throw new ConfigError(where, 'interventions', `concept indices in 0..${k - 1}`, /^\d+$/.test(key) ? j : key);
    }
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw new ConfigError(where, `interventions[${j}]`, 'a value in [0, 1]', value);
    }
    mask[j] = 1;
    values[j] = value;
  }
  return [mask, values];
}

/** c' = c * (1 - mask) + values * mask. */
export function applyInterventions(concepts: tf.Tensor, mask: Float32Array, values: Float32Array): tf.Tensor {
  return tf.tidy(() => {
    const m = tf.tensor1d(mask);
    return tf.add(tf.mul(concepts, tf.sub(1, m)), tf.mul(tf.tensor1d(values), m));
  });
}

/** The linear head on concept values (predicted, intervened or true): c Wh + bh. */
export function conceptHead(concepts: tf.Tensor, headKernel: tf.Tensor, headBias: tf.Tensor): tf.Tensor {
  return tf.add(tf.matMul(concepts as tf.Tensor2D, headKernel as tf.Tensor2D), headBias);
}

/** Forward pass: `{ logits: [B, numClasses], concepts: [B, k] }` (concepts after interventions). */
export function conceptBottleneckOp(
  x: tf.Tensor,
  params: CbmParams,
  options: { interventions?: Interventions | null } = {},
): { logits: tf.Tensor; concepts: tf.Tensor } {
  const where = { op: 'conceptBottleneckOp' };
  if (x.rank !== 2) throw new ShapeError(where, 'x', 'rank 2 [batch, features]', `rank ${x.rank} (shape ${shapeText(x.shape)})`);
  const [d, k] = params.conceptKernel.shape as [number, number];
  if (x.shape[1] !== d) throw new ShapeError(where, 'x', `${d} features in the last axis`, `${x.shape[1]} (shape ${shapeText(x.shape)})`);
  return tf.tidy(() => {
    let concepts = tf.sigmoid(tf.add(tf.matMul(x as tf.Tensor2D, params.conceptKernel as tf.Tensor2D), params.conceptBias));
    if (options.interventions) concepts = applyInterventions(concepts, ...interventionArrays(where, options.interventions, k));
    return { logits: conceptHead(concepts, params.headKernel, params.headBias), concepts };
  });
}

/** One-hot float labels from class indices [B] (int) or pass-through of one-hot [B, C]. */
function oneHotLabels(yTrue: tf.Tensor, numClasses: number): tf.Tensor {
  return yTrue.rank === 1 ? tf.cast(tf.oneHot(tf.cast(yTrue, 'int32') as tf.Tensor1D, numClasses), 'float32') : yTrue;
}

/** Mean softmax cross entropy of logits [B, C] against labels [B] (indices) or [B, C] (one-hot). */
export function classLoss(logits: tf.Tensor, yTrue: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const y = oneHotLabels(yTrue, logits.shape[1]!);
    return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/** Mean over the batch of sum_j BCE(c_hat_j, c_j), c_hat clipped to [BCE_EPS, 1 - BCE_EPS]. */
export function conceptLoss(concepts: tf.Tensor, cTrue: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.clipByValue(concepts, BCE_EPS, 1 - BCE_EPS);
    const ll = tf.add(tf.mul(cTrue, tf.log(p)), tf.mul(tf.sub(1, cTrue), tf.log(tf.sub(1, p))));
    return tf.neg(tf.mean(tf.sum(ll, 1))) as tf.Scalar;
  });
}

/** Joint training loss: CE(y) + lambda * sum_j BCE(c_hat_j, c_j). */
export function jointLoss(
  logits: tf.Tensor,
  yTrue: tf.Tensor,
  concepts: tf.Tensor,
  cTrue: tf.Tensor,
  lambda = CBM_DEFAULT_LAMBDA,
): tf.Scalar {
  return tf.tidy(() => tf.add(classLoss(logits, yTrue), tf.mul(lambda, conceptLoss(concepts, cTrue))) as tf.Scalar);
}
