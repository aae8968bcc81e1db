/**
 * Fake quantisation for quantisation-aware training (blocks.md, "Integer inference"): the forward
 * pass rounds to the int8 grid the deployed model will use and returns the dequantised float; the
 * gradient is the straight-through estimator (STE).
 *
 * activations (asymmetric, per tensor, TFLite nudging):
 *   {scale, zp} = chooseQuantParams(min, max)                (0 exactly representable)
 *   y  = scale * (clamp(roundHalfAway(x / scale) + zp, qmin, qmax) - zp)
 *   dy/dx = 1 inside [scale * (qmin - zp), scale * (qmax - zp)] (the nudged range), 0 outside
 * weights (symmetric, per output channel, zero point 0):
 *   scale[c] = maxAbs(channel c) / 127 (1 for an all-zero channel)
 *   y  = scale[c] * clamp(roundHalfAway(w / scale[c]), -127, 127)
 *   dy/dw = 1 (every weight lies inside its channel's range; the scale is treated as a constant)
 * Rounding is half away from zero, like quantizeValue (tf.round rounds half to even).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  type BaseLayerArgs,
  ConfigError,
  customOp,
  layerWhere,
  registerLayer,
  requireFiniteNumber,
  singleInput,
} from '@tinyblocks/core';
import { chooseQuantParams, INT8_MAX, INT8_MIN, type QuantParams, type QuantRange } from '@tinyblocks/int8';

/** Round half away from zero, elementwise (exact: ties are detected as |x - round(x)| = 0.5). */
export function roundHalfAwayTensor(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const r = tf.round(x);
    const tie = tf.equal(tf.abs(tf.sub(x, r)), 0.5);
    return tf.where(tie, tf.add(x, tf.mul(tf.sign(x), 0.5)), r);
  });
}

/** The grid fakeQuant(x, min, max) uses: the params and the nudged [min, max] it covers. */
export interface FakeQuantGrid extends QuantParams {
  qmin: number;
  qmax: number;
  /** scale * (qmin - zeroPoint): the smallest representable value. */
  nudgedMin: number;
  /** scale * (qmax - zeroPoint): the largest representable value. */
  nudgedMax: number;
}

/** chooseQuantParams(min, max, {qmin, qmax}) and the nudged range it represents. */
export function fakeQuantGrid(min: number, max: number, range: QuantRange = {}): FakeQuantGrid {
  const { qmin = INT8_MIN, qmax = INT8_MAX } = range;
  const p = chooseQuantParams(min, max, { qmin, qmax });
  return { ...p, qmin, qmax, nudgedMin: p.scale * (qmin - p.zeroPoint), nudgedMax: p.scale * (qmax - p.zeroPoint) };
}

/**
 * Asymmetric per-tensor fake quantisation with the straight-through estimator. The forward equals
 * dequantizeValue(quantizeValue(x, p), p) with p = chooseQuantParams(min, max, {qmin, qmax})
 * (in float32); the gradient passes dy where nudgedMin <= x <= nudgedMax and is 0 elsewhere.
 */
export function fakeQuant(x: tf.Tensor, min: number, max: number, range: QuantRange = {}): tf.Tensor {
  const g = fakeQuantGrid(min, max, range);
  const op = customOp((save, input: tf.Tensor) => {
    const inside = tf.logicalAnd(tf.greaterEqual(input, g.nudgedMin), tf.lessEqual(input, g.nudgedMax));
    save([inside]);
    const q = tf.clipByValue(tf.add(roundHalfAwayTensor(tf.div(input, g.scale)), g.zeroPoint), g.qmin, g.qmax);
    return {
      value: tf.mul(tf.sub(q, g.zeroPoint), g.scale),
      gradFunc: (dy, [mask]) => [tf.where(mask!, dy, tf.zerosLike(dy))],
    };
  });
  return tf.tidy(() => op(tf.cast(x, 'float32')));
}

function normaliseAxis(where: string, rank: number, axis: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new ConfigError({ op: where }, 'axis', `an integer in [${-rank}, ${rank - 1}]`, axis);
  }
  return axis < 0 ? axis + rank : axis;
}

/**
 * Symmetric per-channel int8 fake quantisation of a weight tensor along `axis` (default -1, the
 * output channel of a tfjs dense / conv2d kernel): the values quantizeWeightsPerChannel(w, shape,
 * axis) dequantise to (codes * scales[c]), in float32. Gradient: the identity (STE; every weight
 * is inside its channel's [-maxAbs, maxAbs]).
 */
export function fakeQuantPerChannel(w: tf.Tensor, axis = -1): tf.Tensor {
  const a = normaliseAxis('fakeQuantPerChannel', w.rank, axis);
  const op = customOp((_save, input: tf.Tensor) => {
    const others = Array.from({ length: input.rank }, (_, i) => i).filter((i) => i !== a);
    const maxAbs = others.length ? tf.max(tf.abs(input), others, true) : tf.abs(input);
    const scale = tf.where(tf.greater(maxAbs, 0), tf.div(maxAbs, INT8_MAX), tf.onesLike(maxAbs));
    const q = tf.clipByValue(roundHalfAwayTensor(tf.div(input, scale)), -INT8_MAX, INT8_MAX);
    return { value: tf.mul(q, scale), gradFunc: (dy) => [dy] };
  });
  return tf.tidy(() => op(tf.cast(w, 'float32')));
}

export interface FakeQuantArgs extends BaseLayerArgs {
  /** Lower end of the float range (widened to include 0, then nudged). */
  min?: number;
  /** Upper end of the float range. */
  max?: number;
  /**
   * EMA tracking: each training call moves the range towards the batch's range,
   * `r = momentum * r + (1 - momentum) * batch` (the first training call sets it when min / max
   * were not given). In [0, 1); omitted = a fixed range (min and max are then required).
   */
  momentum?: number;
  /** Integer grid, default [-128, 127] (int8 activations). */
  qmin?: number;
  qmax?: number;
}

/**
 * Fake quantisation of one activation tensor as a tf.layers layer. Fixed range ({min, max}) or
 * EMA-tracked during training ({momentum}, optionally with an initial {min, max}). The range is
 * part of the config, so a saved model keeps it. With EMA and no range seen yet it passes values
 * through unchanged.
 */
export class FakeQuant extends tfl.layers.Layer {
  static className = 'FakeQuant';
  readonly momentum: number | null;
  readonly qmin: number;
  readonly qmax: number;
  private lo: number | null;
  private hi: number | null;

  constructor(args: FakeQuantArgs = {}) {
    super(args);
    const where = layerWhere('FakeQuant', args.name);
    const { qmin = INT8_MIN, qmax = INT8_MAX } = args;
    if (!Number.isInteger(qmin) || !Number.isInteger(qmax) || !(qmin <= 0 && qmax > 0)) {
      throw new ConfigError(where, 'qmin/qmax', 'integers with qmin <= 0 < qmax', [qmin, qmax]);
    }
    this.qmin = qmin;
    this.qmax = qmax;
    if (args.momentum === undefined || args.momentum === null) {
      this.momentum = null;
    } else {
      const m = requireFiniteNumber(where, 'momentum', args.momentum);
      if (!(m >= 0 && m < 1)) throw new ConfigError(where, 'momentum', 'a number in [0, 1)', m);
      this.momentum = m;
    }
    const hasMin = args.min !== undefined && args.min !== null;
    const hasMax = args.max !== undefined && args.max !== null;
    if (hasMin !== hasMax) throw new ConfigError(where, hasMin ? 'max' : 'min', 'given together with ' + (hasMin ? 'min' : 'max'), undefined);
    if (!hasMin && this.momentum === null) {
      throw new ConfigError(where, 'min/max', 'a range {min, max}, or momentum for an EMA-tracked range', undefined);
    }
    this.lo = hasMin ? requireFiniteNumber(where, 'min', args.min) : null;
    this.hi = hasMax ? requireFiniteNumber(where, 'max', args.max) : null;
    if (this.lo !== null && this.hi !== null && this.lo > this.hi) {
      throw new ConfigError(where, 'min', `a number <= max (${this.hi})`, this.lo);
    }
  }

  /** The current float range (null while an EMA range has seen no data). */
  range(): { min: number; max: number } | null {
    return this.lo === null || this.hi === null ? null : { min: this.lo, max: this.hi };
  }

  /** Sets the range (e.g. from calibration). */
  setRange(min: number, max: number): void {
    const where = layerWhere('FakeQuant', this.name);
    requireFiniteNumber(where, 'min', min);
    requireFiniteNumber(where, 'max', max);
    if (min > max) throw new ConfigError(where, 'min', `a number <= max (${max})`, min);
    this.lo = min;
    this.hi = max;
  }

  /** The int8 grid of the current range (chooseQuantParams + nudged range); null without a range. */
  grid(): FakeQuantGrid | null {
    const r = this.range();
    return r && fakeQuantGrid(r.min, r.max, { qmin: this.qmin, qmax: this.qmax });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown> = {}): tf.Tensor {
    return tf.tidy(() => {
      const x = singleInput(inputs, this.name);
      if (kwargs['training'] === true && this.momentum !== null) {
        const [bmin, bmax] = [tf.min(x).dataSync()[0]!, tf.max(x).dataSync()[0]!];
        if (Number.isFinite(bmin) && Number.isFinite(bmax)) {
          const m = this.momentum;
          if (this.lo === null || this.hi === null) [this.lo, this.hi] = [bmin, bmax];
          else [this.lo, this.hi] = [m * this.lo + (1 - m) * bmin, m * this.hi + (1 - m) * bmax];
        }
      }
      if (this.lo === null || this.hi === null) return tf.clone(x);
      return fakeQuant(x, this.lo, this.hi, { qmin: this.qmin, qmax: this.qmax });
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { ...super.getConfig(), qmin: this.qmin, qmax: this.qmax };
    if (this.lo !== null && this.hi !== null) {
      config['min'] = this.lo;
      config['max'] = this.hi;
    }
    if (this.momentum !== null) config['momentum'] = this.momentum;
    return config;
  }

  countMacs(): number {
    return 0;
  }
}
registerLayer(FakeQuant);

/** Factory in the tf.layers style: `fakeQuantLayer({min: -1, max: 3})` or `fakeQuantLayer({momentum: 0.99})`. */
export function fakeQuantLayer(args: FakeQuantArgs): FakeQuant {
  return new FakeQuant(args);
}
