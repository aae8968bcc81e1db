/**
 * Affine quantisation parameters (blocks.md, "Integer inference"): `real = scale * (q - zeroPoint)`.
 * - activations: int8 asymmetric per tensor in [-128, 127] (chooseQuantParams),
 * - weights: int8 symmetric per output channel in [-127, 127], zero point 0,
 * - bias: int32 with scale `inScale * wScale[c]`, zero point 0.
 * Float rounding is half away from zero (TfLiteRound). Scales are doubles; round them with
 * Math.fround before writing a .tflite file, which stores float32.
 */
import { ConfigError, requireFiniteNumber } from '@tinyblocks/core/base';
import { clamp, INT32_MAX, INT8_MAX, INT8_MIN, roundHalfAway } from './fixed-point.js';

export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

export interface QuantRange {
  qmin?: number;
  qmax?: number;
}

function qrange(where: string, range: QuantRange): { qmin: number; qmax: number } {
  const { qmin = INT8_MIN, qmax = INT8_MAX } = range;
  if (!Number.isInteger(qmin) || !Number.isInteger(qmax) || !(qmin <= 0 && qmax > 0)) {
    throw new ConfigError({ op: where }, 'qmin/qmax', 'integers with qmin <= 0 < qmax', [qmin, qmax]);
  }
  return { qmin, qmax };
}

/**
 * TFLite's ChooseQuantizationParams for an asymmetric activation tensor. The range is first
 * widened to include 0 (TFLite requires min <= 0 <= max; its calibrator widens the same way).
 * scale = (max - min) / (qmax - qmin); the zero point is computed from whichever end has the
 * smaller rounding error, then nudged to an integer in [qmin, qmax], so real 0 is exactly
 * representable (needed e.g. for zero padding). Nudging keeps the scale, so the grid covers
 * [min, max] up to half a step at one end. min = max = 0 (or a width so small the scale
 * is subnormal) gives {scale: 1, zeroPoint: 0}: TFLite returns scale 0, which would divide by zero
 * downstream.
 */
export function chooseQuantParams(min: number, max: number, range: QuantRange = {}): QuantParams {
  const where = 'chooseQuantParams';
  requireFiniteNumber({ op: where }, 'min', min);
  requireFiniteNumber({ op: where }, 'max', max);
  if (min > max) throw new ConfigError({ op: where }, 'min', `a number <= max (${max})`, min);
  const { qmin, qmax } = qrange(where, range);
  const rmin = Math.min(min, 0);
  const rmax = Math.max(max, 0);
  const scale = (rmax - rmin) / (qmax - qmin);
  if (scale === Infinity) throw new ConfigError({ op: where }, 'max - min', 'a finite width', rmax - rmin);
  if (scale < 2 ** -1022) return { scale: 1, zeroPoint: 0 }; // a point, or a subnormal (inexact) scale
  const zpFromMin = qmin - rmin / scale;
  const zpFromMax = qmax - rmax / scale;
  const errMin = Math.abs(qmin) + Math.abs(rmin / scale);
  const errMax = Math.abs(qmax) + Math.abs(rmax / scale);
  const zp = errMin < errMax ? zpFromMin : zpFromMax;
  const zeroPoint = zp < qmin ? qmin : zp > qmax ? qmax : roundHalfAway(zp);
  return { scale, zeroPoint };
}

/** `clamp(round(x / scale) + zeroPoint, qmin, qmax)`, round half away from zero. */
export function quantizeValue(x: number, p: QuantParams, range: QuantRange = {}): number {
  const { qmin = INT8_MIN, qmax = INT8_MAX } = range;
  return clamp(roundHalfAway(x / p.scale) + p.zeroPoint, qmin, qmax);
}

/** `scale * (q - zeroPoint)`. */
export function dequantizeValue(q: number, p: QuantParams): number {
  return p.scale * (q - p.zeroPoint);
}

/** quantizeValue over an array, into int8. */
export function quantizeArray(x: ArrayLike<number>, p: QuantParams): Int8Array {
  const out = new Int8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = quantizeValue(x[i]!, p);
  return out;
}

/** dequantizeValue over an array. */
export function dequantizeArray(q: ArrayLike<number>, p: QuantParams): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = dequantizeValue(q[i]!, p);
  return out;
}

export interface PerChannelWeights {
  /** int8 codes in [-127, 127], same layout as the input. */
  values: Int8Array;
  /** One scale per channel; zero points are all 0. */
  scales: Float64Array;
  /** The channel axis, normalised to [0, rank). */
  channelAxis: number;
}

/**
 * Symmetric per-channel int8 weights: scale[c] = maxAbs(channel c) / 127, q = round(w / scale)
 * in [-127, 127] (never -128), zero point 0. An all-zero channel gets scale 1 (its codes are 0),
 * never 0 or NaN, so bias and requantisation scales stay finite. channelAxis may be negative
 * (-1 = last axis: the output channel of a tfjs dense or conv2d kernel).
 */
export function quantizeWeightsPerChannel(
  weights: ArrayLike<number>,
  shape: readonly number[],
  channelAxis: number,
): PerChannelWeights {
  const where = { op: 'quantizeWeightsPerChannel' };
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0) || size !== weights.length) {
    throw new ConfigError(where, 'shape', `positive integers with product ${weights.length}`, shape);
  }
  const rank = shape.length;
  if (!Number.isInteger(channelAxis) || channelAxis < -rank || channelAxis >= rank) {
    throw new ConfigError(where, 'channelAxis', `an integer in [${-rank}, ${rank - 1}]`, channelAxis);
  }
  const axis = channelAxis < 0 ? channelAxis + rank : channelAxis;
  const channels = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;

  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < size; i++) {
    const w = weights[i]!;
    if (!Number.isFinite(w)) throw new ConfigError(where, `weights[${i}]`, 'a finite number', w);
    const c = channelOf(i);
    if (Math.abs(w) > maxAbs[c]!) maxAbs[c] = Math.abs(w);
  }
  const scales = maxAbs.map((m) => (m > 0 ? m / INT8_MAX : 1));
  const values = new Int8Array(size);
  for (let i = 0; i < size; i++) {
    values[i] = clamp(roundHalfAway(weights[i]! / scales[channelOf(i)]!), -INT8_MAX, INT8_MAX);
  }
  return { values, scales, channelAxis: axis };
}

/**
 * int32 bias: q[c] = round(bias[c] / (inScale * wScales[c])), saturated to [-(2^31-1), 2^31-1]
 * (TFLite's SafeCast). wScales is one scale per channel or a single per-tensor scale.
 */
export function quantizeBias(bias: ArrayLike<number>, inScale: number, wScales: ArrayLike<number> | number): Int32Array {
  const where = { op: 'quantizeBias' };
  if (!(Number.isFinite(inScale) && inScale > 0)) throw new ConfigError(where, 'inScale', 'a finite number > 0', inScale);
  const perChannel = typeof wScales !== 'number';
  if (perChannel && wScales.length !== bias.length) {
    throw new ConfigError(where, 'wScales.length', `${bias.length} (one per bias entry)`, wScales.length);
  }
  const out = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const w = perChannel ? wScales[c]! : wScales;
    if (!(Number.isFinite(w) && w > 0)) throw new ConfigError(where, `wScales[${c}]`, 'a finite number > 0', w);
    const b = bias[c]!;
    if (!Number.isFinite(b)) throw new ConfigError(where, `bias[${c}]`, 'a finite number', b);
    out[c] = clamp(roundHalfAway(b / (inScale * w)), -INT32_MAX, INT32_MAX);
  }
  return out;
}
