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
export const BOTTLENECKS = ['probability', 'logit'] as const;
/** What the head reads: concept probabilities (the paper's default) or concept logits. */
export type Bottleneck = (typeof BOTTLENECKS)[number];

/** Default [low, high] logits an intervention of 0 / 1 writes in a logit bottleneck. */
export const DEFAULT_INTERVENTION_LOGITS: [number, number] = [-4, 4];

/**
 * Concept values an intervention writes, in the bottleneck's own space: probabilities as given,
 * or for a logit bottleneck low + v * (high - low) with [low, high] per concept (the 5th / 95th
 * percentile of training logits once calibrated).
 */
export function interventionTargets(values: Float32Array, bottleneck: Bottleneck, logits?: ReadonlyArray<readonly [number, number]>): Float32Array {
  if (bottleneck === 'probability') return values;
  return values.map((v, j) => {
    const [lo, hi] = logits?.[j] ?? DEFAULT_INTERVENTION_LOGITS;
    return lo + v * (hi - lo);
  });
}

export interface CbmOptions {
  interventions?: Interventions | null;
  bottleneck?: Bottleneck;
  interventionLogits?: ReadonlyArray<readonly [number, number]>;
}

/**
 * The whole block: z = x Wc + bc; concepts = sigmoid(z); logits = head(concepts) or head(z) for a
 * logit bottleneck. Interventions overwrite the chosen concepts before the head. Returns the
 * logits and the concept probabilities.
 */
export function conceptBottleneckOp(
  x: tf.Tensor,
  params: CbmParams,
  options: CbmOptions = {},
): { logits: tf.Tensor; concepts: tf.Tensor } {
  const where = { op: 'conceptBottleneckOp' };
  if (x.rank !== 2) throw new ShapeError(where, 'x', 'rank 2 [batch, features]', `rank ${x.rank} (shape ${shapeText(x.shape)})`);
  const [d, k] = params.conceptKernel.shape as [number, number];
  if (x.shape[1] !== d) throw new ShapeError(where, 'x', `${d} features in the last axis`, `${x.shape[1]} (shape ${shapeText(x.shape)})`);
  const mask = options.interventions ? interventionArrays(where, options.interventions, k) : null;
  return cbmForward(x, params, options.bottleneck ?? 'probability', mask, options.interventionLogits);
}

/** Shared forward of the op and the layer (inputs already checked). */
export function cbmForward(
  x: tf.Tensor,
  params: CbmParams,
  bottleneck: Bottleneck,
  mask: [Float32Array, Float32Array] | null,
  interventionLogits?: ReadonlyArray<readonly [number, number]>,
): { logits: tf.Tensor; concepts: tf.Tensor } {
  return tf.tidy(() => {
    let z = tf.add(tf.matMul(x as tf.Tensor2D, params.conceptKernel as tf.Tensor2D), params.conceptBias);
    if (bottleneck === 'logit') {
      if (mask) z = applyInterventions(z, mask[0], interventionTargets(mask[1], 'logit', interventionLogits));
      return { logits: conceptHead(z, params.headKernel, params.headBias), concepts: tf.sigmoid(z) };
    }
    let concepts = tf.sigmoid(z);
    if (mask) concepts = applyInterventions(concepts, ...mask);
    return { logits: conceptHead(concepts, params.headKernel, params.headBias), concepts };
  });
}

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
