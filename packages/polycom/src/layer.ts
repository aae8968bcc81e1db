import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import {
  type BaseLayerArgs,
  type ElementwiseLayer,
  type LayerShape,
  type MacCounter,
  firstShape,
  layerWhere,
  registerLayer,
  requireFiniteNumber,
  requirePositive,
  ShapeError,
  singleInput,
} from '@tinyblocks/core';
import { POLY_DEFAULT_B, POLY_DEFAULT_W, requireW3 } from './params.js';
import { POLYNORM_DEFAULT_EPS, polyNorm } from './polynorm.js';
import { polyReLU, polyReLUScalar } from './polyrelu.js';

export interface PolyArgs extends BaseLayerArgs {
  /** Initial [w0, w1, w2]; w0 multiplies the highest power (default [1/3, 1/3, 1/3]). */
  wInit?: [number, number, number];
  /** Initial bias b (default 0). */
  bInit?: number;
}

export interface PolyNormArgs extends PolyArgs {
  /** Added to the mean square inside the rsqrt (default 1e-6). */
  eps?: number;
}

const size = (shape: LayerShape): number => shape.reduce<number>((a, d) => a * (d ?? 1), 1);

/** What PolyReLU and PolyNorm share: the weights 'w' [3] and 'b' [], shared by all channels. */
abstract class PolyBase extends tfl.layers.Layer implements MacCounter {
  readonly wInit: [number, number, number];
  readonly bInit: number;
  protected w!: LayerVariable;
  protected b!: LayerVariable;

  constructor(className: string, args: PolyArgs) {
    super(args);
    const where = layerWhere(className, args.name);
    this.wInit = [...requireW3(where, 'wInit', args.wInit ?? POLY_DEFAULT_W)];
    this.bInit = requireFiniteNumber(where, 'bInit', args.bInit ?? POLY_DEFAULT_B);
    this.supportsMasking = true;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.w = this.addWeight('w', [3], 'float32', tfl.initializers.zeros());
    tf.tidy(() => {
      this.w.write(tf.tensor1d(this.wInit));
    });
    this.b = this.addWeight('b', [], 'float32', tfl.initializers.constant({ value: this.bInit }));
    this.built = true;
    void inputShape;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), wInit: [...this.wInit], bInit: this.bInit };
  }

  /** Current values of w = [w0, w1, w2] and b (for the int8 lowering). */
  params(): { w: number[]; b: number } {
    return { w: Array.from(this.w.read().dataSync()), b: this.b.read().dataSync()[0]! };
  }

  abstract countMacs(inputShape: LayerShape | LayerShape[]): number;
}

/** PolyReLU as a tf.layers layer: y = w0*r^3 + w1*r^2 + w2*r + b, r = relu(x). */
export class PolyReLU extends PolyBase implements ElementwiseLayer {
  static className = 'PolyReLU';

  constructor(args: PolyArgs = {}) {
    super('PolyReLU', args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => polyReLU(singleInput(inputs, this.name), this.w.read(), this.b.read()));
  }

  elementwiseFn(): (x: number) => number {
    const { w, b } = this.params();
    return (x) => polyReLUScalar(x, w, b);
  }

  /** 3 multiply-adds per element (Horner: ((w0*r + w1)*r + w2)*r + b). */
  countMacs(inputShape: LayerShape | LayerShape[]): number {
    return 3 * size(firstShape(inputShape).slice(1));
  }
}
registerLayer(PolyReLU);

/** PolyNorm as a tf.layers layer, normalising over the last axis (features / channels). */
export class PolyNorm extends PolyBase {
  static className = 'PolyNorm';
  readonly eps: number;

  constructor(args: PolyNormArgs = {}) {
    super('PolyNorm', args);
    this.eps = requirePositive(layerWhere('PolyNorm', args.name), 'eps', args.eps ?? POLYNORM_DEFAULT_EPS);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = firstShape(inputShape as LayerShape);
    if (shape.length < 2) {
      const want = 'rank >= 2 (batch, ..., features)';
      throw new ShapeError(layerWhere('PolyNorm', this.name), 'input', want, `rank ${shape.length}`);
    }
    super.build(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => polyNorm(singleInput(inputs, this.name), this.w.read(), this.b.read(), this.eps));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), eps: this.eps };
  }

  /**
   * Per element 7 multiplies: x^2, x^3, x^4 = x^2*x^2, x^6 = x^3*x^3 (the three sums of squares
   * are then plain additions) and 3 multiply-adds for the output; per vector (last axis) 3 more
   * to fold w_k into the three rsqrt factors. The rsqrts themselves are not counted.
   */
  countMacs(inputShape: LayerShape | LayerShape[]): number {
    const shape = firstShape(inputShape);
    return 7 * size(shape.slice(1)) + 3 * size(shape.slice(1, -1));
  }
}
registerLayer(PolyNorm);

/** Factory in the tf.layers style: `polyReLULayer({wInit: [1/3, 1/3, 1/3], bInit: 0})`. */
export function polyReLULayer(args?: PolyArgs): PolyReLU {
  return new PolyReLU(args);
}

/** Factory in the tf.layers style: `polyNormLayer({eps: 1e-6})`. */
export function polyNormLayer(args?: PolyNormArgs): PolyNorm {
  return new PolyNorm(args);
}
