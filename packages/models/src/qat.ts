/**
 * Quantisation-aware fine-tuning of a trained role-tagged model: activation fake quantisation
 * after every layer (ranges from calibration) plus per-channel weight fake quantisation (the swap
 * trick), trained with the ordinary training loop at a small learning rate. The float weights of
 * the original model are what gets updated; export quantises them afterwards.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, Rng } from '@tinyblocks/core';
import {
  calibrateRanges,
  detachFakeQuant,
  fakeQuantRanges,
  qatWeightHooks,
  withFakeQuant,
  type LayerRanges,
  type ObserverMethod,
} from '@tinyblocks/quantize';
import { imageBatch, range, type ImageSet } from './data.js';
import { evaluate, type EvalResult } from './evaluate.js';
import type { ModelInfo } from './reference.js';
import { trainModel, type TrainOptions, type TrainProgress } from './train.js';

export interface QatCalibration {
  /** Observer of the activation ranges (default 'minmax'). */
  method?: ObserverMethod;
  /** Percentile for method 'percentile' (default 99.99). */
  percentile?: number;
  /** Training images used for calibration (default 512, a seeded random subset). */
  count?: number;
}

export interface QatOptions extends Omit<TrainOptions, 'epochs' | 'learningRate' | 'minLearningRate' | 'weightHooks'> {
  /** Default 1. */
  epochs?: number;
  /** Peak learning rate of the cosine decay (default 3e-4: fine-tuning, not training). */
  learningRate?: number;
  /** Final learning rate (default learningRate / 10). */
  minLearningRate?: number;
  /** Activation ranges by layer name; default: calibrated on `data` (see `calibration`). */
  ranges?: LayerRanges;
  calibration?: QatCalibration;
  /** EMA momentum: ranges then track the training batches (default: fixed ranges). */
  momentum?: number;
  /** Fake-quantise the conv / depthwise / dense kernels too (default true). */
  weights?: boolean;
  onProgress?: (p: TrainProgress) => void;
}

export interface QatSummary {
  /** Final (smoothed) training loss of the fake-quantised model. */
  loss: number;
  steps: number;
  images: number;
  seconds: number;
  /** Training accuracy of the fake-quantised model over the last epoch. */
  trainAccuracy: number;
  /** The activation ranges at the end (the calibrated ones unless EMA-tracked). */
  ranges: LayerRanges;
}

/** Activation ranges of every layer over `count` images of `data` (seeded random subset). */
export function calibrateModelRanges(model: tfl.LayersModel, data: ImageSet, calibration: QatCalibration = {}, seed = 1): LayerRanges {
  const count = Math.min(calibration.count ?? 512, data.count);
  if (!(count >= 1)) throw new ConfigError({ op: 'calibrateModelRanges' }, 'data.count', 'at least 1 image', data.count);
  const idx = new Rng(seed).shuffle(range(data.count)).slice(0, count);
  const x = imageBatch(data.images, idx);
  try {
    const opts = calibration.percentile === undefined ? {} : { percentile: calibration.percentile };
    return calibrateRanges(model, x, calibration.method ?? 'minmax', opts);
  } finally {
    x.dispose();
  }
}

/**
 * Fine-tunes `model` with fake quantisation (activations after every layer, kernels per channel)
 * using trainModel on the wrapped model. The wrapper shares the layers, so the float weights of
 * `model` are fine-tuned in place; the wrapper is detached at the end and `model` is left a plain
 * model again (usable, savable, lowerable).
 */
export function fineTuneQat(model: tfl.LayersModel, info: ModelInfo, data: ImageSet, options: QatOptions = {}): QatSummary {
  const { ranges: given, calibration, momentum, weights = true, epochs = 1, learningRate = 3e-4, ...rest } = options;
  const ranges = given ?? calibrateModelRanges(model, data, calibration, options.seed ?? 1);
  const wrapped = withFakeQuant(model, ranges, momentum === undefined ? {} : { momentum });
  const hooks = weights ? qatWeightHooks(model) : undefined;
  try {
    const summary = trainModel(wrapped, info, data, {
      ...rest,
      epochs,
      learningRate,
      minLearningRate: options.minLearningRate ?? learningRate / 10,
      ...(hooks ? { weightHooks: hooks } : {}),
    });
    return {
      loss: summary.finalLoss,
      steps: summary.steps,
      images: summary.images,
      seconds: summary.seconds,
      trainAccuracy: summary.trainAccuracy,
      ranges: fakeQuantRanges(wrapped),
    };
  } finally {
    hooks?.dispose();
    detachFakeQuant(wrapped);
  }
}

export interface FakeQuantEvalOptions {
  /** Fake-quantise the kernels too (default true). */
  weights?: boolean;
  batchSize?: number;
}

/**
 * Accuracy of the fake-quantised model (activations with `ranges`, kernels per channel): what the
 * int8 model computes up to integer-arithmetic rounding. Leaves `model` unchanged.
 */
export function evaluateFakeQuant(
  model: tfl.LayersModel,
  info: ModelInfo,
  data: ImageSet,
  ranges: LayerRanges,
  options: FakeQuantEvalOptions = {},
): EvalResult {
  const wrapped = withFakeQuant(model, ranges);
  const hooks = options.weights === false ? undefined : qatWeightHooks(model);
  try {
    hooks?.before();
    return evaluate(wrapped, info, data, options.batchSize);
  } finally {
    hooks?.dispose();
    detachFakeQuant(wrapped);
  }
}
