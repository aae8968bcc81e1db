import * as tf from '@tensorflow/tfjs-core';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';

/** Package prefix under which every tinyblocks layer is registered for (de)serialization. */
export const SERIALIZATION_PACKAGE = 'tinyblocks';

/** Registers a tf.layers class as `tinyblocks>ClassName` so saved models load it back. */
export function registerLayer<T extends tf.serialization.SerializableConstructor<tf.serialization.Serializable>>(
  cls: T,
): T {
  tf.serialization.registerClass(cls, SERIALIZATION_PACKAGE);
  return cls;
}

/** A shape as tf.layers reports it: the batch dimension is null. */
export type LayerShape = Array<number | null>;

/** Layers that know their own cost implement this; countModel() asks it. */
export interface MacCounter {
  /** Multiply-accumulates for ONE sample given the layer's input shape(s) (batch dim null). */
  countMacs(inputShape: LayerShape | LayerShape[]): number;
}

export function isMacCounter(layer: unknown): layer is MacCounter {
  return typeof (layer as MacCounter | null)?.countMacs === 'function';
}

/** Turns a tf.layers input shape argument into one shape (the first when there are several). */
export function firstShape(inputShape: LayerShape | LayerShape[]): LayerShape {
  const s = inputShape as unknown[];
  return (Array.isArray(s[0]) ? s[0] : s) as LayerShape;
}

/** Constructor arguments every tf.layers layer accepts (name, trainable, inputShape, ...). */
export type BaseLayerArgs = LayerArgs;

/**
 * Elementwise layers expose their float function with the current parameter values frozen.
 * The int8 lowering turns it into a 256-entry lookup table.
 */
export interface ElementwiseLayer {
  elementwiseFn(): (x: number) => number;
}

export function isElementwiseLayer(layer: unknown): layer is ElementwiseLayer {
  return typeof (layer as ElementwiseLayer | null)?.elementwiseFn === 'function';
}

/** The single tensor a one-input layer was called with. */
export function singleInput(inputs: tf.Tensor | tf.Tensor[], layerName: string): tf.Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1) {
      throw new Error(`${layerName}: inputs: expected 1 tensor, got ${inputs.length}`);
    }
    return inputs[0]!;
  }
  return inputs;
}

/**
 * Layers that add a term to the training loss (the delta layer's temporal-sparsity penalty, a
 * concept layer's sparsity, ...) record it during a `training: true` call; `collectAuxLosses`
 * sums and clears what every such layer recorded. Record it with an AuxLossSlot.
 */
export interface AuxLossLayer {
  takeAuxLoss(): tf.Scalar | null;
}

export function isAuxLossLayer(layer: unknown): layer is AuxLossLayer {
  return typeof (layer as AuxLossLayer | null)?.takeAuxLoss === 'function';
}

/** Sum of the auxiliary losses recorded since the last call (null when there are none). */
export function collectAuxLosses(model: { layers: unknown[] }): tf.Scalar | null {
  let total: tf.Scalar | null = null;
  for (const layer of model.layers) {
    if (!isAuxLossLayer(layer)) continue;
    const loss = layer.takeAuxLoss();
    if (loss) total = total ? (tf.add(total, loss) as tf.Scalar) : loss;
  }
  return total;
}

/**
 * Holds the auxiliary loss one layer recorded until `take()`. tf.layers runs a model's layers
 * inside its own tidy (Container.call), which would dispose a loss left in that scope, so the
 * slot keeps it and hands back a clone in the caller's scope; the clone carries the gradient.
 */
export class AuxLossSlot {
  private kept: tf.Scalar | null = null;

  record(loss: tf.Scalar): void {
    this.kept?.dispose();
    this.kept = tf.keep(loss);
  }

  take(): tf.Scalar | null {
    const kept = this.kept;
    this.kept = null;
    if (!kept || kept.isDisposed) return null;
    const out = tf.clone(kept);
    kept.dispose();
    return out;
  }

  dispose(): void {
    this.kept?.dispose();
    this.kept = null;
  }
}
