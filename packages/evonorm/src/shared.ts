/** Checks shared by the EvoNorm ops and layers: NHWC input, per-channel parameters, groups. */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, requirePositiveInt, requireRank, type Where } from '@tinyblocks/core';

export const EVONORM_DEFAULT_EPS = 1e-5;
export const EVONORM_DEFAULT_GROUPS = 32;
export const EVONORM_DEFAULT_MOMENTUM = 0.9;

/** blocks.md: start from `groups` (at most the channel count) and reduce until it divides it. */
export function resolveGroups(groups: number, channels: number, where: Where = { op: 'resolveGroups' }): number {
  let g = Math.min(requirePositiveInt(where, 'groups', groups), requirePositiveInt(where, 'channels', channels));
  while (channels % g !== 0) g--;
  return g;
}

/** Checks that x is NHWC (rank 4) and returns its channel count. */
export function requireNHWC(where: Where, field: string, shape: ReadonlyArray<number | null>): number {
  requireRank(where, field, shape, [4]);
  const c = shape[3];
  if (c == null) throw new ShapeError(where, field, 'a known channel count (last axis)', shape);
  return c;
}

/** A per-channel parameter as a [C] tensor (numbers are converted). */
export function perChannel(where: Where, field: string, p: tf.Tensor | number[], channels: number): tf.Tensor {
  const t = p instanceof tf.Tensor ? p : tf.tensor1d(p);
  if (t.size !== channels) throw new ShapeError(where, field, `shape [${channels}] (one per channel)`, t.shape);
  return t;
}
