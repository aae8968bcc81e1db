/**
 * The training loop for models whose outputs carry roles (final logits, early exits, concepts):
 *   loss = CE(final) + sum_i tau_i * CE(exit_i)         (SDN weighting, tau ramped over epochs)
 *        + lambda * sum_j BCE(concept_j)                 (joint concept-bottleneck training)
 *        + auxiliary losses recorded by layers           (delta temporal sparsity, on stream steps)
 * Every `streamEvery`-th step trains on moving Fashion-MNIST clips (consecutive frames of an item
 * drifting and jittering) so the delta layer's temporal-sparsity loss sees real temporal data.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { collectAuxLosses, Rng } from '@tinyblocks/core';
import { movingFashionMnistClips } from '@tinyblocks/datasets';
import { disposeBatch, makeBatch, range, type Batch, type ImageSet } from './data.js';
import type { ModelInfo } from './reference.js';

export interface TrainOptions {
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  /** Final learning rate of the cosine decay. */
  minLearningRate?: number;
  seed?: number;
  /** Final SDN weights of the early exits (ramped linearly from 0 over the epochs). */
  exitTaus?: number[];
  /** Weight lambda of the concept loss (joint training). */
  conceptWeight?: number;
  /** Every n-th step is a moving-Fashion-MNIST stream step (0 = never). */
  streamEvery?: number;
  /** Frames per clip on stream steps (must match the delta layer's clipLength). */
  clipLength?: number;
  onProgress?: (p: TrainProgress) => void;
  /**
   * Called around every step's loss and gradient computation: `before()` just before it,
   * `after()` once the gradients are computed and before the optimizer applies them. QAT swaps
   * fake-quantised weights in and the float weights back this way (qatWeightHooks).
   */
  weightHooks?: { before(): void; after(): void };
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  accuracy: number;
  imagesPerSec: number;
  etaSeconds: number;
  done: boolean;
}

export interface TrainSummary {
  epochs: number;
  steps: number;
  images: number;
  seconds: number;
  finalLoss: number;
  trainAccuracy: number;
}

const ce = (logits: tf.Tensor, y: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;

/** Cross-entropy of an output that is already a probability (a softmax layer or activation). */
const probabilityCe = (p: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, 1e-7, 1))), -1))) as tf.Scalar;

/** Per model output: true when it ends in a softmax (Dense/conv activation, Activation or Softmax layer), false for logits. */
export function softmaxOutputs(model: tfl.LayersModel): boolean[] {
  return model.outputs.map((o) => {
    const layer = (o as unknown as { sourceLayer: tfl.layers.Layer }).sourceLayer;
    if (layer.getClassName() === 'Softmax') return true;
    return (layer.getConfig() as { activation?: unknown }).activation === 'softmax';
  });
}

function conceptBce(p: tf.Tensor, c: tf.Tensor): tf.Scalar {
  const q = tf.clipByValue(p, 1e-7, 1 - 1e-7);
  const bce = tf.neg(tf.add(tf.mul(c, tf.log(q)), tf.mul(tf.sub(1, c), tf.log(tf.sub(1, q)))));
  return tf.mean(tf.sum(bce, 1));
}

/** The loss of one batch for a model with role-tagged outputs. */
export function compositeLoss(
  outputs: tf.Tensor[],
  info: ModelInfo,
  batch: Batch,
  taus: number[],
  conceptWeight: number,
  /** Per output: already a probability (softmaxOutputs); default: every output is logits. */
  probabilities: readonly boolean[] = [],
): tf.Scalar {
  let loss: tf.Scalar = tf.scalar(0);
  let exit = 0;
  info.outputRoles.forEach((role, i) => {
    const out = outputs[i]!;
    const xent = probabilities[i] ? probabilityCe : ce;
    if (role === 'logits') loss = tf.add(loss, xent(out, batch.y));
    else if (role === 'exit') loss = tf.add(loss, tf.mul(taus[exit++] ?? 0, xent(out, batch.y)));
    else if (role === 'concepts' && conceptWeight > 0) loss = tf.add(loss, tf.mul(conceptWeight, conceptBce(out, batch.c)));
  });
  return loss;
}

export function trainModel(model: tfl.LayersModel, info: ModelInfo, data: ImageSet, options: TrainOptions): TrainSummary {
  const batchSize = options.batchSize ?? 64;
  const lr0 = options.learningRate ?? 3e-3;
  const lr1 = options.minLearningRate ?? 1e-4;
  const exitTaus = options.exitTaus ?? [0.3, 0.6];
  const conceptWeight = options.conceptWeight ?? 0.5;
  const streamEvery = options.streamEvery ?? 4;
  const clipLength = options.clipLength ?? 16;
  const rng = new Rng(options.seed ?? 1);
  const stepsPerEpoch = Math.floor(data.count / batchSize);
  const totalSteps = stepsPerEpoch * options.epochs;
  const optimizer = tf.train.adam(lr0);
  const probabilities = softmaxOutputs(model);
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const logitsIndex = info.outputRoles.indexOf('logits');

  // A pool of stream clips (drawn once): frames of one item drifting and jittering.
  const clipsPerBatch = Math.max(1, Math.floor(batchSize / clipLength));
  const pool = streamEvery > 0
    ? movingFashionMnistClips({ images: data.images, labels: data.labels, clips: clipsPerBatch * 32, frames: clipLength, seed: rng.seed() })
    : null;

  const start = performance.now();
  let step = 0;
  let lossEma = NaN;
  let correct = 0;
  let seen = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = rng.shuffle(range(data.count));
    const ramp = Math.min(1, (epoch + 1) / Math.max(1, options.epochs * 0.5));
    const taus = exitTaus.map((t) => t * ramp);
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      (optimizer as unknown as { learningRate: number }).learningRate =
        lr1 + 0.5 * (lr0 - lr1) * (1 + Math.cos((Math.PI * step) / totalSteps));
      const stream = pool !== null && streamEvery > 0 && step % streamEvery === streamEvery - 1;
      const batch = stream
        ? (() => {
            const clip = rng.int(pool!.clips - clipsPerBatch + 1);
            return makeBatch(pool!.frames, pool!.labels, range(clipsPerBatch * clipLength, clip * clipLength));
          })()
        : makeBatch(data.images, data.labels, order.slice(s * batchSize, (s + 1) * batchSize));
      let predicted: tf.Tensor | null = null;
      const lossValue = tf.tidy(() => {
        const hooks = options.weightHooks;
        hooks?.before();
        let cost: tf.Scalar;
        let grads: tf.NamedTensorMap;
        try {
          ({ value: cost, grads } = optimizer.computeGradients(() => {
            const outs = [model.apply(batch.x, { training: true }) as tf.Tensor | tf.Tensor[]].flat(); // one output: a tensor
            const aux = collectAuxLosses(model);
            const l = compositeLoss(outs, info, batch, taus, conceptWeight, probabilities);
            predicted = tf.keep(tf.argMax(outs[logitsIndex]!, 1));
            return stream && aux ? (tf.add(l, aux) as tf.Scalar) : l;
          }, vars));
        } finally {
          hooks?.after();
        }
        // in `vars` order, missing gradients included, as minimize() does: Adam keys its moments by position
        optimizer.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
        return cost.dataSync()[0]!;
      });
      const pred = (predicted as tf.Tensor | null)?.dataSync() ?? [];
      tf.dispose(predicted ?? []);
      for (let i = 0; i < batch.labels.length; i++) if (pred[i] === batch.labels[i]) correct++;
      seen += batch.labels.length;
      disposeBatch(batch);
      lossEma = Number.isNaN(lossEma) ? lossValue : 0.95 * lossEma + 0.05 * lossValue;
      const elapsed = (performance.now() - start) / 1000;
      const done = step + 1 === totalSteps;
      if (options.onProgress && (done || step % 5 === 0)) {
        options.onProgress({
          epoch: epoch + 1,
          epochs: options.epochs,
          step: s + 1,
          stepsPerEpoch,
          loss: lossEma,
          accuracy: correct / seen,
          imagesPerSec: ((step + 1) * batchSize) / elapsed,
          etaSeconds: (elapsed / (step + 1)) * (totalSteps - step - 1),
          done,
        });
      }
    }
    if (epoch < options.epochs - 1) {
      correct = 0;
      seen = 0;
    }
  }
  optimizer.dispose();
  return {
    epochs: options.epochs,
    steps: step,
    images: step * batchSize,
    seconds: (performance.now() - start) / 1000,
    finalLoss: lossEma,
    trainAccuracy: seen ? correct / seen : 0,
  };
}
