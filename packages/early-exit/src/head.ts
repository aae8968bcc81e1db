/**
 * Early-exit head (Shallow-Deep Networks internal classifier): pooling + dense.
 *
 *   pooled = a * maxpool(x) + (1 - a) * avgpool(x)   (global, over every axis but batch and channel)
 *   a      = sigmoid(mix)                            ('mix' weight = a logit, so a stays in (0, 1))
 *   logits = pooled @ kernel + bias
 * pooling 'avg' / 'max' use a fixed a = 0 / 1 and have no 'mix' weight; 'concat' keeps both,
 * [avg, max] (2C features, no 'mix' weight). A [B, C] input is not pooled.
 * grid g > 1 (a [B, H, W, C] input with H and W divisible by g) pools each of g x g equal regions
 * instead of the whole map, so the dense layer sees where features are: features are ordered
 * region (row-major), then [avg, max] for 'concat', then channel.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import {
  type BaseLayerArgs,
  ConfigError,
  customOp,
  type MacCounter,
  ShapeError,
  firstShape,
  layerWhere,
  registerLayer,
  requireOneOf,
  requirePositiveInt,
  shapeText,
  singleInput,
} from '@tinyblocks/core';

export const POOLINGS = ['mix', 'avg', 'max', 'concat'] as const;
export type Pooling = (typeof POOLINGS)[number];

/**
 * Global max over the middle axis of [B, S, C] -> [B, C].
 * gradient: dy goes to every position equal to the max, found as 1 - step(max - x) (max >= x);
 * tfjs's own Max gradient uses a broadcast Equal, which the wasm backend runs ~50x slower.
 */
const globalMax = customOp((save, x: tf.Tensor) => {
  const m = tf.max(x, 1, true);
  save([x, m]);
  return {
    value: tf.reshape(m, [x.shape[0]!, x.shape[2]!]),
    gradFunc: (dy, [sx, sm]) => {
      const mask = tf.sub(1, tf.step(tf.sub(sm!, sx!)));
      return [tf.mul(mask, tf.expandDims(dy, 1))];
    },
  };
});

/** Global pooling of [B, ...spatial, C] to [B, C]: a*max + (1-a)*mean (a scalar tensor or number). */
export function mixPool(x: tf.Tensor, a: tf.Tensor | number): tf.Tensor {
  if (x.rank === 2) return x;
  const flat = tf.reshape(x, [x.shape[0]!, -1, x.shape[x.rank - 1]!]);
  if (a === 0) return tf.mean(flat, 1);
  if (a === 1) return globalMax(flat);
  return tf.add(tf.mul(a, globalMax(flat)), tf.mul(tf.sub(1, a), tf.mean(flat, 1)));
}

/**
 * [B, H, W, C] -> [B*g*g, (H/g)*(W/g), C]: the g x g regions, row-major, each flattened (reshape
 * and transpose only, so the pooling after it keeps the gradients wasm has).
 */
function regions(x: tf.Tensor, g: number): tf.Tensor {
  const [b, h, w, c] = x.shape as number[];
  const r = tf.reshape(x, [b!, g, h! / g, g, w! / g, c!]);
  return tf.reshape(tf.transpose(r, [0, 1, 3, 2, 4, 5]), [b! * g * g, (h! / g) * (w! / g), c!]);
}

/**
 * The head's pooling of [B, ...spatial, C] to [B, features]: per region of a g x g grid (g = 1:
 * the whole map), a*max + (1-a)*mean, or [mean, max] for 'concat'.
 */
export function headPool(x: tf.Tensor, pooling: Pooling, a: tf.Tensor | number, grid = 1): tf.Tensor {
  if (x.rank === 2) return x;
  const b = x.shape[0]!;
  const flat = grid === 1 ? tf.reshape(x, [b, -1, x.shape[x.rank - 1]!]) : regions(x, grid);
  const pooled = pooling === 'concat' ? tf.concat([tf.mean(flat, 1), globalMax(flat)], 1) : mixPool(flat, a);
  return grid === 1 ? pooled : tf.reshape(pooled, [b, -1]);
}

export interface EarlyExitHeadArgs extends BaseLayerArgs {
  numClasses: number;
  /** 'mix' (SDN, default): learnable a*max + (1-a)*avg; 'avg' or 'max': fixed; 'concat': [avg, max]. */
  pooling?: Pooling;
  /** Pool each region of a g x g grid (default 1: global pooling); H and W must divide by g. */
  grid?: number;
  /** Initial a in (0, 1) for 'mix' (default 0.5). */
  mixInit?: number;
  /** Seed of the kernel's glorot-uniform initializer (default: unseeded). */
  seed?: number;
}

/** The frozen parameters of a head, for the int8 lowering. */
export interface EarlyExitHeadParams {
  pooling: Pooling;
  /** a of a*max + (1-a)*avg (1 for 'max', 0 for 'avg' and 'concat'). */
  mix: number;
  /** g of the g x g pooling grid (1: global). */
  grid: number;
  /** Input channels. */
  channels: number;
  /** Pooled features = grid^2 * channels (x 2 for 'concat'): the kernel's rows. */
  features: number;
  numClasses: number;
  /** [features, numClasses] row-major. */
  kernel: number[];
  bias: number[];
}

export class EarlyExitHead extends tfl.layers.Layer implements MacCounter {
  static className = 'EarlyExitHead';
  readonly numClasses: number;
  readonly pooling: Pooling;
  readonly grid: number;
  readonly mixInit: number;
  readonly seed: number | undefined;
  private kernel!: LayerVariable;
  private bias!: LayerVariable;
  private mix: LayerVariable | null = null;
  /** Input channels, set by build. */
  private channels = 0;

  constructor(args: EarlyExitHeadArgs) {
    super(args);
    const where = layerWhere('EarlyExitHead', this.name);
    this.numClasses = requirePositiveInt(where, 'numClasses', args?.numClasses);
    this.pooling = requireOneOf(where, 'pooling', args.pooling ?? 'mix', POOLINGS);
    this.grid = requirePositiveInt(where, 'grid', args.grid ?? 1);
    const mixInit = args.mixInit ?? 0.5;
    if (typeof mixInit !== 'number' || !(mixInit > 0 && mixInit < 1)) {
      throw new ConfigError(where, 'mixInit', 'a number in (0, 1)', mixInit);
    }
    this.mixInit = mixInit;
    this.seed = args.seed;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = firstShape(inputShape);
    const channels = shape[shape.length - 1];
    if (shape.length < 2 || shape.length > 5 || channels == null) {
      throw new ShapeError(
        layerWhere('EarlyExitHead', this.name),
        'input',
        '[batch, ...spatial, channels] of rank 2 to 5 with known channels',
        `rank ${shape.length} (shape ${shapeText(shape)})`,
      );
    }
    const g = this.grid;
    if (g > 1 && (shape.length !== 4 || shape[1] == null || shape[2] == null || shape[1] % g !== 0 || shape[2] % g !== 0)) {
      throw new ShapeError(
        layerWhere('EarlyExitHead', this.name),
        'input',
        `[batch, H, W, channels] with H and W divisible by grid ${g}`,
        `shape ${shapeText(shape)}`,
      );
    }
    this.channels = channels;
    const features = shape.length === 2 ? channels : g * g * channels * (this.pooling === 'concat' ? 2 : 1);
    this.kernel = this.addWeight('kernel', [features, this.numClasses], 'float32', tfl.initializers.glorotUniform(this.seed === undefined ? {} : { seed: this.seed }));
    this.bias = this.addWeight('bias', [this.numClasses], 'float32', tfl.initializers.zeros());
    if (this.pooling === 'mix') {
      const logit = Math.log(this.mixInit / (1 - this.mixInit));
      this.mix = this.addWeight('mix', [], 'float32', tfl.initializers.constant({ value: logit }));
    }
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleInput(inputs, this.name);
      const a = this.mix ? tf.sigmoid(this.mix.read()) : this.pooling === 'max' ? 1 : 0;
      return tf.add(tf.matMul(headPool(x, this.pooling, a, this.grid), this.kernel.read()), this.bias.read());
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return [firstShape(inputShape)[0] ?? null, this.numClasses];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numClasses: this.numClasses,
      pooling: this.pooling,
      grid: this.grid,
      mixInit: this.mixInit,
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    };
  }

  /** a of a*max + (1-a)*avg. */
  mixValue(): number {
    if (!this.mix) return this.pooling === 'max' ? 1 : 0;
    return 1 / (1 + Math.exp(-this.mix.read().dataSync()[0]!));
  }

  params(): EarlyExitHeadParams {
    return {
      pooling: this.pooling,
      mix: this.mixValue(),
      grid: this.grid,
      channels: this.channels,
      features: this.kernel.shape[0]!,
      numClasses: this.numClasses,
      kernel: Array.from(this.kernel.read().dataSync()),
      bias: Array.from(this.bias.read().dataSync()),
    };
  }

  /** The dense part only: pooling counts 0 MACs, like core counts pooling layers. */
  countMacs(inputShape: Array<number | null> | Array<Array<number | null>>): number {
    const shape = firstShape(inputShape);
    const c = shape[shape.length - 1] ?? 0;
    const features = shape.length === 2 ? c : c * this.grid * this.grid * (this.pooling === 'concat' ? 2 : 1);
    return features * this.numClasses;
  }
}
registerLayer(EarlyExitHead);

/** Factory in the tf.layers style: `earlyExitHead({ numClasses: 10 })`. */
export function earlyExitHead(args: EarlyExitHeadArgs): EarlyExitHead {
  return new EarlyExitHead(args);
}
