/**
 * Retraining the early-exit heads of a trained model on its frozen backbone.
 *
 * Joint training (train.ts) shapes the backbone for all heads at once; a head that is too small,
 * or that was trained with a weak exit loss, answers few samples confidently. retrainExits swaps
 * each exit head for a new one (optionally another pooling / grid: a 2x2 grid of [avg, max]
 * pooling sees where features are, which a global pool cannot) and trains only the heads, with
 * cross entropy, on the backbone's inference-mode features. The backbone's weights and the final
 * classifier are untouched, so the model's final accuracy does not change.
 *
 * tuneExitThresholds then picks one max-softmax threshold per head on held-out images: the
 * fewest average MACs whose accuracy stays within maxLoss of the final classifier's.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, Rng } from '@tinyblocks/core';
import { concatHeadProbabilities, EarlyExitHead, earlyExitHead, headPool, headProbabilities, tuneThresholds, type HeadProbabilities, type Pooling, type TunedThresholds } from '@tinyblocks/early-exit';
import { disposeBatch, imageBatch, makeBatch, range, type ImageSet } from './data.js';
import type { ModelInfo } from './reference.js';
import type { TrainProgress } from './train.js';

export interface ExitHeadSpec {
  /** Default: the old head's pooling. */
  pooling?: Pooling;
  /** Default: the old head's grid. */
  grid?: number;
}

export interface RetrainExitsOptions {
  epochs: number;
  /** One spec per exit head, in output order (default: every head keeps its configuration). */
  heads?: ExitHeadSpec[];
  batchSize?: number;
  /** Peak learning rate of the cosine decay (default 3e-3). */
  learningRate?: number;
  /** Final learning rate (default 1e-4). */
  minLearningRate?: number;
  /** Seeds the new heads' initial weights and the shuffling (default 1). */
  seed?: number;
  onProgress?: (p: TrainProgress) => void;
}

export interface RetrainExitsResult {
  /** The model with the new heads (same inputs, outputs and layer names; shares the backbone's layers). */
  model: tfl.LayersModel;
  /** The new heads' configurations, in exit order. */
  heads: Array<{ name: string; pooling: Pooling; grid: number }>;
  steps: number;
  seconds: number;
  finalLoss: number;
}

/**
 * A head trained on standardized pooled features: logits = ((pool(x) - mu) / sigma) @ W + b, with
 * mu, sigma per feature measured once on 1,024 training images (the shipped backbone's channels
 * differ in scale by 100x: a plain dense layer on them starts with logits in the hundreds and
 * learns slowly). W starts as the new head's glorot-uniform kernel, b at 0. It is the same function as the head's
 * pool(x) @ (W / sigma) + (b - (mu / sigma) @ W), which foldInto() writes into the head exactly.
 */
class Standardized {
  private readonly w: tf.Variable;
  private readonly b: tf.Variable;
  private readonly mixLogit: tf.Variable | null;
  private readonly mu: tf.Tensor;
  private readonly sigma: tf.Tensor;

  constructor(
    private readonly head: EarlyExitHead,
    /** Which of featuresOf's outputs the head reads. */
    k: number,
    featuresOf: (x: tf.Tensor) => tf.Tensor[],
    data: ImageSet,
    seed: number,
  ) {
    const [kernel, bias, mix] = head.getWeights();
    this.mixLogit = mix ? tf.variable(mix.clone()) : null;
    [this.mu, this.sigma] = tf.tidy(() => {
      const x = imageBatch(data.images, new Rng(seed).shuffle(range(data.count)).slice(0, Math.min(1024, data.count)));
      const pooled = this.pool(featuresOf(x)[k]!);
      const { mean, variance } = tf.moments(pooled, 0);
      return [mean, tf.add(tf.sqrt(variance), 1e-3)];
    });
    // the new head's glorot-uniform kernel, now on unit-variance features (getWeights gives the
    // layer's own tensors: cloned, not disposed)
    this.w = tf.variable(kernel!.clone());
    this.b = tf.variable(tf.zerosLike(bias!));
  }

  private pool(x: tf.Tensor): tf.Tensor {
    const a = this.mixLogit ? tf.sigmoid(this.mixLogit) : this.head.pooling === 'max' ? 1 : 0;
    return headPool(x, this.head.pooling, a, this.head.grid);
  }

  variables(): tf.Variable[] {
    return [this.w, this.b, ...(this.mixLogit ? [this.mixLogit] : [])];
  }

  logits(x: tf.Tensor): tf.Tensor {
    return tf.add(tf.matMul(tf.div(tf.sub(this.pool(x), this.mu), this.sigma), this.w), this.b);
  }

  /** Writes kernel = W / sigma, bias = b - (mu / sigma) @ W (and the mix) into the head; frees the variables. */
  foldInto(): void {
    const weights = tf.tidy(() => {
      const kernel = tf.div(this.w, tf.expandDims(this.sigma, 1));
      const bias = tf.sub(this.b, tf.reshape(tf.matMul(tf.expandDims(this.mu, 0), kernel), [-1]));
      return [kernel, bias, ...(this.mixLogit ? [this.mixLogit.clone()] : [])];
    });
    this.head.setWeights(weights);
    tf.dispose([...weights, ...this.variables(), this.mu, this.sigma]);
  }
}

/** The exit heads of a role-tagged model: output index, the head layer, its input tensor. */
function exitHeads(model: tfl.LayersModel, info: ModelInfo) {
  const where = { op: 'retrainExits' };
  const found = info.outputRoles.flatMap((role, output) => (role === 'exit' ? [output] : [])).map((output) => {
    const layer = model.outputs[output]!.sourceLayer;
    if (!(layer instanceof EarlyExitHead)) throw new ConfigError(where, `output ${output}`, 'an EarlyExitHead (role exit)', layer.getClassName());
    return { output, layer, input: layer.input as tfl.SymbolicTensor };
  });
  if (found.length === 0) throw new ConfigError(where, 'outputRoles', "at least one 'exit' output", info.outputRoles);
  return found;
}

export function retrainExits(model: tfl.LayersModel, info: ModelInfo, data: ImageSet, options: RetrainExitsOptions): RetrainExitsResult {
  const where = { op: 'retrainExits' };
  const old = exitHeads(model, info);
  if (options.heads !== undefined && (!Array.isArray(options.heads) || options.heads.length !== old.length)) {
    throw new ConfigError(where, 'heads', `one spec per exit head (${old.length})`, options.heads);
  }
  const seed = options.seed ?? 1;
  const heads = old.map(({ layer, input }, k) => {
    const spec = options.heads?.[k] ?? {};
    const head = earlyExitHead({ name: layer.name, numClasses: layer.numClasses, pooling: spec.pooling ?? layer.pooling, grid: spec.grid ?? layer.grid, seed: seed * 1000 + 100 + k });
    const output = head.apply(input) as tfl.SymbolicTensor; // builds it (shape errors name the head)
    return { head, output };
  });
  const features = tfl.model({ inputs: model.inputs, outputs: old.map((h) => h.input) });
  const outputs = model.outputs.map((o, i) => heads[old.findIndex((h) => h.output === i)]?.output ?? o);
  const retrained = tfl.model({ name: model.name, inputs: model.inputs, outputs });
  retrained.setUserDefinedMetadata(model.getUserDefinedMetadata() as never);

  const batchSize = options.batchSize ?? 64;
  const lr0 = options.learningRate ?? 3e-3;
  const lr1 = options.minLearningRate ?? 1e-4;
  const stepsPerEpoch = Math.floor(data.count / batchSize);
  if (stepsPerEpoch === 0) throw new ConfigError(where, 'data', `at least batchSize (${batchSize}) images`, data.count);
  const rng = new Rng(seed);
  const featuresOf = (x: tf.Tensor): tf.Tensor[] => {
    const f = features.predict(x) as tf.Tensor | tf.Tensor[]; // frozen: inference mode, no gradient
    return Array.isArray(f) ? f : [f];
  };
  const trainables = heads.map(({ head }, k) => new Standardized(head, k, featuresOf, data, rng.seed()));
  const totalSteps = stepsPerEpoch * options.epochs;
  const optimizer = tf.train.adam(lr0);
  const vars = trainables.flatMap((t) => t.variables());
  const start = performance.now();
  let loss = NaN;
  let correct = 0;
  let seen = 0;
  let step = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = rng.shuffle(range(data.count));
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      (optimizer as unknown as { learningRate: number }).learningRate = lr1 + 0.5 * (lr0 - lr1) * (1 + Math.cos((Math.PI * step) / totalSteps));
      const batch = makeBatch(data.images, data.labels, order.slice(s * batchSize, (s + 1) * batchSize));
      const value = tf.tidy(() => {
        const inputs = featuresOf(batch.x);
        let first: tf.Tensor | null = null;
        const cost = optimizer.minimize(() => {
          const logits = trainables.map((t, k) => t.logits(inputs[k]!));
          first = tf.keep(tf.argMax(logits[0]!, 1));
          return logits.map((l) => tf.losses.softmaxCrossEntropy(batch.y, l) as tf.Scalar).reduce((a, b) => tf.add(a, b));
        }, true, vars)!;
        const pred = (first as tf.Tensor | null)!.dataSync();
        for (let i = 0; i < batch.labels.length; i++) if (pred[i] === batch.labels[i]) correct++;
        seen += batch.labels.length;
        tf.dispose(first!);
        return cost.dataSync()[0]!;
      });
      disposeBatch(batch);
      loss = Number.isNaN(loss) ? value : 0.95 * loss + 0.05 * value;
      const elapsed = (performance.now() - start) / 1000;
      const done = step + 1 === totalSteps;
      if (options.onProgress && (done || step % 5 === 0)) {
        options.onProgress({
          epoch: epoch + 1, epochs: options.epochs, step: s + 1, stepsPerEpoch, loss, accuracy: correct / seen,
          imagesPerSec: ((step + 1) * batchSize) / elapsed, etaSeconds: (elapsed / (step + 1)) * (totalSteps - step - 1), done,
        });
      }
    }
    if (epoch < options.epochs - 1) [correct, seen] = [0, 0];
  }
  for (const t of trainables) t.foldInto();
  optimizer.dispose();
  return {
    model: retrained,
    heads: heads.map(({ head }) => ({ name: head.name, pooling: head.pooling, grid: head.grid })),
    steps: step,
    seconds: (performance.now() - start) / 1000,
    finalLoss: loss,
  };
}

/**
 * One max-softmax threshold per exit head, tuned on `data` (held-out images, not the test set):
 * the fewest average MACs within `maxLoss` accuracy of the final classifier.
 */
export function tuneExitThresholds(model: tfl.LayersModel, data: ImageSet, options: { maxLoss: number; candidates?: number[] }): TunedThresholds {
  return tuneThresholds(exitProbabilities(model, data), options);
}

/** Every head's softmax rows on an image set, run in chunks so large sets never sit in memory at once. */
export function exitProbabilities(model: tfl.LayersModel, data: ImageSet, chunk = 1000): HeadProbabilities {
  const parts = [];
  for (let start = 0; start < data.count; start += chunk) {
    const idx = range(Math.min(chunk, data.count - start), start);
    const x = imageBatch(data.images, idx);
    try {
      parts.push(headProbabilities(model, x, idx.map((i) => data.labels[i]!)));
    } finally {
      x.dispose();
    }
  }
  return concatHeadProbabilities(parts);
}

/** The last `count` images of a set as a held-out split, and the rest. */
export function holdOut(data: ImageSet, count: number): { train: ImageSet; heldOut: ImageSet } {
  if (!(Number.isInteger(count) && count > 0 && count < data.count)) {
    throw new ConfigError({ op: 'holdOut' }, 'count', `an integer in [1, ${data.count - 1}]`, count);
  }
  const n = data.count - count;
  return {
    train: { images: data.images.subarray(0, n * 784), labels: data.labels.subarray(0, n), count: n },
    heldOut: { images: data.images.subarray(n * 784, data.count * 784), labels: data.labels.subarray(n, data.count), count },
  };
}
