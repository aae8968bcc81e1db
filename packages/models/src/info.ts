import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelInfo } from './reference.js';

/** Reads the role tags a tinyblocks model carries; a plain one-output classifier gets defaults. */
export function modelInfo(model: tfl.LayersModel): ModelInfo {
  const meta = model.getUserDefinedMetadata() as { tinyblocks?: ModelInfo } | undefined;
  if (meta?.tinyblocks) return meta.tinyblocks;
  const shape = model.inputs[0]!.shape;
  const out = model.outputs[0]!.shape;
  return {
    arch: model.name,
    inputShape: shape.slice(1) as [number, number, number],
    numClasses: out[out.length - 1] ?? 10,
    outputRoles: model.outputs.map((_, i) => (i === 0 ? 'logits' : 'exit')),
  };
}

/** Metadata object to pass to saveModel so the roles survive saving. */
export function infoMetadata(info: ModelInfo, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { tinyblocks: info, ...extra };
}

/**
 * The exit thresholds int8 export uses unless told otherwise: the model's tuned ones
 * (`tinyblocks retrain-exits`), else 0.99 for every head.
 */
export function defaultExitThreshold(info: ModelInfo): number | number[] {
  return info.exitThresholds ?? 0.99;
}
