import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import {
  type BaseLayerArgs,
  ConfigError,
  type LayerShape,
  type MacCounter,
  firstShape,
  layerWhere,
  registerLayer,
  requireChannels,
  requireFiniteNumber,
  requirePositive,
  requirePositiveInt,
  singleInput,
} from '@tinyblocks/core';
import { batchVariance, evoNormB0 } from './b0.js';
import { evoNormS0 } from './s0.js';
import {
  EVONORM_DEFAULT_EPS,
  EVONORM_DEFAULT_GROUPS,
  EVONORM_DEFAULT_MOMENTUM,
  requireNHWC,
  resolveGroups,
} from './shared.js';

export interface EvoNormB0Args extends BaseLayerArgs {
  /** Decay of the moving variance (default 0.9): moving = decay*moving + (1 - decay)*batch. */
  momentum?: number;
  /** Added to the variances (default 1e-5). */
  eps?: number;
}

export interface EvoNormS0Args extends BaseLayerArgs {
  /** Channel groups (default 32), reduced until it divides the channel count. */
  groups?: number;
  /** Added to the group variance (default 1e-5). */
  eps?: number;
}

/** Current per-channel parameters, as plain numbers (for the int8 lowering). */
export interface EvoNormParams {
  gamma: number[];
  beta: number[];
  v: number[];
  eps: number;
}

/** What both variants share: NHWC input checks, gamma / beta / v per channel (init 1, 0, 1). */
abstract class EvoNormBase extends tfl.layers.Layer implements MacCounter {
  readonly eps: number;
  protected channels = 0;
  protected gamma!: LayerVariable;
  protected beta!: LayerVariable;
  protected v!: LayerVariable;

  constructor(
    protected readonly kind: string,
    args: BaseLayerArgs & { eps?: number },
  ) {
    super(args);
    this.eps = requirePositive(this.where(args.name), 'eps', args.eps ?? EVONORM_DEFAULT_EPS);
  }

  protected where(name = this.name) {
    return layerWhere(this.kind, name);
  }

  /** Rank 4 and, once built, the channel count the layer was built for. */
  protected checkShape(shape: LayerShape): number {
    const c = requireNHWC(this.where(), 'input', shape);
    if (this.built) requireChannels(this.where(), 'input', shape, this.channels);
    return c;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.channels = this.checkShape(firstShape(inputShape as LayerShape));
    const c = [this.channels];
    this.gamma = this.addWeight('gamma', c, 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', c, 'float32', tfl.initializers.zeros());
    this.v = this.addWeight('v', c, 'float32', tfl.initializers.ones());
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    this.checkShape(firstShape(inputShape as LayerShape));
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), eps: this.eps };
  }

  protected baseParams(): EvoNormParams {
    const read = (p: LayerVariable) => Array.from(p.read().dataSync());
    return { gamma: read(this.gamma), beta: read(this.beta), v: read(this.v), eps: this.eps };
  }

  abstract countMacs(inputShape: LayerShape | LayerShape[]): number;
}

/** Elements of one sample ([null, H, W, C] -> H*W*C). */
const sampleSize = (shape: LayerShape): number => shape.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);

/** EvoNorm-B0: batch variance in training (moving variance at inference) vs a per-sample term. */
export class EvoNormB0 extends EvoNormBase {
  static className = 'EvoNormB0';
  readonly momentum: number;
  private movingVariance!: LayerVariable;

  constructor(args: EvoNormB0Args = {}) {
    super('EvoNormB0', args);
    const m = requireFiniteNumber(this.where(args.name), 'momentum', args.momentum ?? EVONORM_DEFAULT_MOMENTUM);
    if (m < 0 || m >= 1) throw new ConfigError(this.where(args.name), 'momentum', 'a number in [0, 1)', m);
    this.momentum = m;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    super.build(inputShape);
    this.movingVariance = this.addWeight(
      'moving_variance', [this.channels], 'float32', tfl.initializers.ones(), undefined, false,
    );
    this.built = true;
  }

  /** `training: true` uses (and updates the moving variance with) the batch variance. */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown> = {}): tf.Tensor {
    return tf.tidy(() => {
      const x = singleInput(inputs, this.name);
      this.checkShape(x.shape);
      const [g, b, v] = [this.gamma.read(), this.beta.read(), this.v.read()];
      if (kwargs['training'] !== true) return evoNormB0(x, g, b, v, this.movingVariance.read(), { eps: this.eps });
      const batchVar = batchVariance(x);
      // as tf.layers BatchNormalization: moving -= (moving - batch) * (1 - momentum)
      const moving = this.movingVariance.read();
      this.movingVariance.write(tf.sub(moving, tf.mul(tf.sub(moving, batchVar), 1 - this.momentum)));
      return evoNormB0(x, g, b, v, batchVar, { eps: this.eps });
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum };
  }

  /** gamma, beta, v and the moving variance as numbers. */
  params(): EvoNormParams & { movingVariance: number[] } {
    return { ...this.baseParams(), movingVariance: Array.from(this.movingVariance.read().dataSync()) };
  }

  /**
   * 4 per element: x^2 for the instance variance, v*x, the division by the max, the gamma scale.
   * The per-(sample, channel) sqrt and the max are not multiplies and are not counted.
   */
  countMacs(inputShape: LayerShape | LayerShape[]): number {
    return 4 * sampleSize(firstShape(inputShape));
  }
}
registerLayer(EvoNormB0);

/** EvoNorm-S0: x * sigmoid(v*x) / groupStd(x) * gamma + beta; no batch statistics. */
export class EvoNormS0 extends EvoNormBase {
  static className = 'EvoNormS0';
  /** The groups asked for; `params().groups` is the count actually used. */
  readonly groups: number;
  private resolvedGroups = 0;

  constructor(args: EvoNormS0Args = {}) {
    super('EvoNormS0', args);
    this.groups = requirePositiveInt(this.where(args.name), 'groups', args.groups ?? EVONORM_DEFAULT_GROUPS);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    super.build(inputShape);
    this.resolvedGroups = resolveGroups(this.groups, this.channels, this.where());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleInput(inputs, this.name);
      this.checkShape(x.shape);
      return evoNormS0(x, this.gamma.read(), this.beta.read(), this.v.read(), {
        groups: this.resolvedGroups,
        eps: this.eps,
      });
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups };
  }

  /** gamma, beta, v as numbers and the resolved group count. */
  params(): EvoNormParams & { groups: number } {
    return { ...this.baseParams(), groups: this.resolvedGroups };
  }

  /**
   * 4 per element: x^2 for the group variance, v*x, x*sigmoid (the sigmoid is a table), the
   * (gamma * 1/groupStd) scale; plus C per sample to fold gamma into each group's 1/std.
   */
  countMacs(inputShape: LayerShape | LayerShape[]): number {
    const shape = firstShape(inputShape);
    return 4 * sampleSize(shape) + (shape[3] ?? 0);
  }
}
registerLayer(EvoNormS0);

export function evoNormB0Layer(args?: EvoNormB0Args): EvoNormB0 {
  return new EvoNormB0(args);
}

export function evoNormS0Layer(args?: EvoNormS0Args): EvoNormS0 {
  return new EvoNormS0(args);
}
