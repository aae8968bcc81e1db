import type * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '@tinyblocks/core';
import type { ModelInfo, OutputRole } from './reference.js';

const ROLES: readonly OutputRole[] = ['logits', 'exit', 'concepts'];

/** Checks the `tinyblocks` metadata a model.json carries (a shared file may say anything). */
function checkInfo(info: unknown, model: tfl.LayersModel): ModelInfo {
  const where = { file: `model '${model.name}' userDefinedMetadata.tinyblocks` };
  const o = info as Record<string, unknown>;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new DataError(where, 'tinyblocks', 'an object', info);
  if (typeof o['arch'] !== 'string' || o['arch'].length > 200) throw new DataError(where, 'arch', 'a name', o['arch']);
  const shape = o['inputShape'];
  const declared = model.inputs[0]!.shape.slice(1);
  if (!Array.isArray(shape) || shape.length !== declared.length || !shape.every((d, i) => Number.isInteger(d) && d > 0 && (declared[i] == null || declared[i] === d))) {
    throw new DataError(where, 'inputShape', `the model input's shape [${declared.join(', ')}]`, shape);
  }
  if (!Number.isInteger(o['numClasses']) || (o['numClasses'] as number) < 1) throw new DataError(where, 'numClasses', 'an integer >= 1', o['numClasses']);
  const roles = o['outputRoles'];
  if (!Array.isArray(roles) || roles.length !== model.outputs.length || !roles.every((r) => (ROLES as readonly unknown[]).includes(r)) || roles.filter((r) => r === 'logits').length !== 1) {
    throw new DataError(where, 'outputRoles', `one of ${ROLES.join(' | ')} per model output (${model.outputs.length}), one 'logits'`, roles);
  }
  const exits = roles.filter((r) => r === 'exit').length;
  const t = o['exitThresholds'];
  if (t !== undefined && (!Array.isArray(t) || t.length !== exits || !t.every((x) => typeof x === 'number' && x > 0 && x <= 2))) {
    throw new DataError(where, 'exitThresholds', `one threshold in (0, 1] per exit head (${exits}; 2: never exits)`, t);
  }
  const names = o['conceptNames'];
  if (names !== undefined && (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))) throw new DataError(where, 'conceptNames', 'an array of names', names);
  return o as unknown as ModelInfo;
}

/** Reads (and checks) the role tags a tinyblocks model carries; a plain one-output classifier gets defaults. */
export function modelInfo(model: tfl.LayersModel): ModelInfo {
  const meta = model.getUserDefinedMetadata() as { tinyblocks?: unknown } | undefined;
  if (meta && typeof meta === 'object' && Object.hasOwn(meta, 'tinyblocks')) return checkInfo(meta.tinyblocks, model);
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
