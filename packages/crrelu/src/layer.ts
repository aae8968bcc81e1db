import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import {
  type BaseLayerArgs,
  type ElementwiseLayer,
  type MacCounter,
  layerWhere,
  registerLayer,
  requireFiniteNumber,
  singleInput,
} from '@tinyblocks/core';
import { CRRELU_DEFAULT_EPS, crrelu, crreluScalar } from './crrelu.js';

export interface CRReLUArgs extends BaseLayerArgs {
  /** Initial value of the learnable eps (default 0.01). */
  epsInit?: number;
}

/** CRReLU as a tf.layers layer: one trainable scalar weight `eps`. */
export class CRReLU extends tfl.layers.Layer implements ElementwiseLayer, MacCounter {
  static className = 'CRReLU';
  readonly epsInit: number;
  private eps!: LayerVariable;

  constructor(args: CRReLUArgs = {}) {
    super(args);
    this.epsInit = requireFiniteNumber(layerWhere('CRReLU', args.name), 'epsInit', args.epsInit ?? CRRELU_DEFAULT_EPS);
    this.supportsMasking = true;
  }

  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    this.eps = this.addWeight('eps', [], 'float32', tfl.initializers.constant({ value: this.epsInit }));
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => crrelu(singleInput(inputs, this.name), this.eps.read() as tf.Scalar));
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsInit: this.epsInit };
  }

  /** Current value of eps. */
  epsValue(): number {
    return this.eps.read().dataSync()[0]!;
  }

  elementwiseFn(): (x: number) => number {
    const eps = this.epsValue();
    return (x) => crreluScalar(x, eps);
  }

  countMacs(): number {
    return 0;
  }
}
registerLayer(CRReLU);

/** Factory in the tf.layers style: `crreluLayer({epsInit: 0.01})`. */
export function crreluLayer(args?: CRReLUArgs): CRReLU {
  return new CRReLU(args);
}
