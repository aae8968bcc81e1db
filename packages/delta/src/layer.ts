import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import {
  AuxLossSlot,
  type AuxLossLayer,
  type BaseLayerArgs,
  ConfigError,
  type MacCounter,
  ShapeError,
  firstShape,
  layerWhere,
  registerLayer,
  requireNonNegative,
  requireOneOf,
  requirePositive,
  shapeText,
  singleInput,
} from '@tinyblocks/core';
import { deltaQuantize, deltaSparsityLoss } from './quantize.js';

export const DELTA_GRANULARITIES = ['channel', 'neuron', 'layer'] as const;
export type DeltaGranularity = (typeof DELTA_GRANULARITIES)[number];

export interface DeltaArgs extends BaseLayerArgs {
  /** Initial threshold (quantization step), > 0. Default 0.1. */
  thresholdInit?: number;
  /** One threshold per channel (last axis, default), per neuron (every feature) or per layer. */
  granularity?: DeltaGranularity;
  /** Apply relu before quantizing (default true). */
  relu?: boolean;
  /** Weight of the temporal-sparsity loss (default 1.0). */
  spRate?: number;
  /** MACs each activation feeds downstream, weights the loss (default 1). */
  fanOut?: number;
  /** 1 (default): input [batch, time, ...features]. 0: the batch axis is time. */
  timeAxis?: 0 | 1;
  /** timeAxis 0 only: the batch is made of independent clips of this many frames. */
  clipLength?: number;
}

/**
 * Delta activation layer: outputs q = round(relu(x)/thr)*thr (see deltaQuantize) and, in a
 * `training: true` call, records spRate * fanOut * mean |q_t - q_{t-1}| for collectAuxLosses.
 * Trainable weight: 'threshold' (its absolute value is the step).
 */
export class Delta extends tfl.layers.Layer implements AuxLossLayer, MacCounter {
  static className = 'Delta';
  readonly thresholdInit: number;
  readonly granularity: DeltaGranularity;
  readonly relu: boolean;
  readonly spRate: number;
  readonly fanOut: number;
  readonly timeAxis: 0 | 1;
  readonly clipLength: number | undefined;
  private threshold!: LayerVariable;
  private readonly pending = new AuxLossSlot();

  constructor(args: DeltaArgs = {}) {
    super(args);
    const where = layerWhere('Delta', this.name);
    this.thresholdInit = requirePositive(where, 'thresholdInit', args.thresholdInit ?? 0.1);
    this.granularity = requireOneOf(where, 'granularity', args.granularity ?? 'channel', DELTA_GRANULARITIES);
    const relu = args.relu ?? true;
    if (typeof relu !== 'boolean') throw new ConfigError(where, 'relu', 'true or false', relu);
    this.relu = relu;
    this.spRate = requireNonNegative(where, 'spRate', args.spRate ?? 1);
    this.fanOut = requirePositive(where, 'fanOut', args.fanOut ?? 1);
    const timeAxis = args.timeAxis ?? 1;
    if (timeAxis !== 0 && timeAxis !== 1) throw new ConfigError(where, 'timeAxis', '0 or 1', timeAxis);
    this.timeAxis = timeAxis;
    const clip = args.clipLength;
    if (clip !== undefined && (timeAxis !== 0 || !Number.isInteger(clip) || clip <= 0)) {
      throw new ConfigError(where, 'clipLength', 'an integer > 0, used with timeAxis 0', clip);
    }
    this.clipLength = clip;
  }

  private checkRank(shape: ReadonlyArray<number | null>): void {
    const min = this.timeAxis + 2;
    if (shape.length < min) {
      const layout = this.timeAxis === 1 ? '[batch, time, ...features]' : '[time, ...features]';
      throw new ShapeError(
        layerWhere('Delta', this.name),
        'input',
        `rank >= ${min} ${layout}`,
        `rank ${shape.length} (shape ${shapeText(shape)})`,
      );
    }
  }

  /** Shape of the threshold weight for an input shape. */
  private thresholdShape(shape: Array<number | null>): number[] {
    const features = shape.slice(this.timeAxis + 1);
    const dims = this.granularity === 'layer' ? [1] : this.granularity === 'channel' ? features.slice(-1) : features;
    if (dims.some((d) => d == null)) {
      throw new ShapeError(layerWhere('Delta', this.name), 'input', `known feature dims for granularity '${this.granularity}'`, `shape ${shapeText(shape)}`);
    }
    return dims as number[];
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = firstShape(inputShape);
    this.checkRank(shape);
    this.threshold = this.addWeight(
      'threshold',
      this.thresholdShape(shape),
      'float32',
      tfl.initializers.constant({ value: this.thresholdInit }),
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown> = {}): tf.Tensor {
    const x = singleInput(inputs, this.name);
    this.checkRank(x.shape);
    const q = tf.tidy(() => deltaQuantize(x, this.threshold.read(), { relu: this.relu }));
    if (kwargs['training'] === true) {
      this.pending.record(tf.tidy(() => this.sparsityLoss(q)));
    }
    return q;
  }

  /** The layer's temporal-sparsity loss for its output q (what a training call records). */
  sparsityLoss(q: tf.Tensor): tf.Scalar {
    return deltaSparsityLoss(q, {
      spRate: this.spRate,
      fanOut: this.fanOut,
      timeAxis: this.timeAxis,
      ...(this.clipLength !== undefined ? { clipLength: this.clipLength } : {}),
    });
  }

  /**
   * The loss recorded by the last `training: true` call (null if none), then forgets it. The
   * returned scalar belongs to the caller's scope and carries the gradient to x and threshold.
   */
  takeAuxLoss(): tf.Scalar | null {
    return this.pending.take();
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      thresholdInit: this.thresholdInit,
      granularity: this.granularity,
      relu: this.relu,
      spRate: this.spRate,
      fanOut: this.fanOut,
      timeAxis: this.timeAxis,
      ...(this.clipLength !== undefined ? { clipLength: this.clipLength } : {}),
    };
  }

  override dispose(): ReturnType<tfl.layers.Layer['dispose']> {
    this.pending.dispose();
    return super.dispose();
  }

  /** The thresholds |threshold| as a flat array (row-major in the weight's shape). */
  params(): number[] {
    return Array.from(tf.tidy(() => tf.abs(this.threshold.read()).dataSync()));
  }

  /** Shape of the 'threshold' weight: [C], the feature shape, or [1]. */
  paramsShape(): number[] {
    return this.threshold.shape.slice() as number[];
  }

  countMacs(): number {
    return 0;
  }
}
registerLayer(Delta);

/** Factory in the tf.layers style: `deltaLayer({ thresholdInit: 0.1 })`. */
export function deltaLayer(args?: DeltaArgs): Delta {
  return new Delta(args);
}
