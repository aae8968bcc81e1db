/**
 * Delta activation (Yousefzadeh & Sifalakis, "Training for temporal sparsity in deep neural
 * networks"), functional form on tfjs-core.
 *
 * forward:  thr = |threshold|,  x' = relu(x) (optional),  n = round(x' / thr),  q = n * thr
 *           (round = tf.round: half to even)
 * gradient: exactly the authors' `quantize(x, q) = round_ste(x / no_grad(q)) * neg_grad(q)`:
 *           dq/dx         = 1 (straight-through round; times step(x) when relu is on)
 *           dq/dthr       = -n   (the divisor's thr is stop-gradient; the gradient reaching thr
 *                                 through the multiplication n * thr is sign flipped)
 *           dq/dthreshold = -n * sign(threshold), summed over the axes thr is broadcast along.
 *           The flip applies to every loss reaching thr through q. For the sparsity penalty it is
 *           what pushes thresholds up: d(sum |q_t - q_{t-1}|)/dthr = -sum |n_t - n_{t-1}| <= 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, customOp, shapeText } from '@tinyblocks/core';

/** Sums a broadcast gradient back to the shape of the tensor that was broadcast. */
function sumTo(g: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, g.shape);
  return tf.reshape(axes.length ? tf.sum(g, axes) : g, shape);
}

const quantizeOp = customOp((save, x: tf.Tensor, threshold: tf.Tensor) => {
  const thr = tf.abs(threshold);
  const n = tf.round(tf.div(x, thr));
  save([n, threshold]);
  const value = tf.mul(n, thr);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [sn, st] = saved as [tf.Tensor, tf.Tensor];
    const dThr = sumTo(tf.neg(tf.mul(dy, sn)), st.shape); // sign-flipped: -n * dy
    return [dy, tf.mul(dThr, tf.sign(st))];
  };
  return { value, gradFunc };
});

export interface DeltaQuantizeOptions {
  /** Apply relu before quantizing (default true, as the Delta layer). */
  relu?: boolean;
}

/**
 * q = round(x / |threshold|) * |threshold| (after an optional relu). `threshold` broadcasts
 * against x: shape [C] is per channel (last axis), the feature shape is per neuron, a scalar or
 * [1] is one threshold for the layer.
 */
export function deltaQuantize(
  x: tf.Tensor,
  threshold: tf.Tensor | number,
  options: DeltaQuantizeOptions = {},
): tf.Tensor {
  const t = typeof threshold === 'number' ? tf.scalar(threshold) : threshold;
  try {
    const out = tf.backend_util.assertAndGetBroadcastShape(x.shape, t.shape);
    if (out.length !== x.shape.length || out.some((d, i) => d !== x.shape[i])) throw new Error('grows x');
  } catch {
    throw new ShapeError(
      { op: 'deltaQuantize' },
      'threshold',
      `a shape that broadcasts to x ${shapeText(x.shape)}`,
      t.shape,
    );
  }
  return quantizeOp((options.relu ?? true) ? tf.relu(x) : x, t);
}

export interface SparsityOptions {
  /** 1 (default): q is [batch, time, ...]. 0: the batch axis is time (consecutive frames). */
  timeAxis?: 0 | 1;
  /** With timeAxis 0: the batch holds independent clips of this many frames (the last may be
   *  shorter); pairs across a clip boundary are not temporal deltas. */
  clipLength?: number;
}

export interface SparsityLossOptions extends SparsityOptions {
  /** Weight of the penalty (default 1.0; the authors used 1e-5..1e-6 on a large video model). */
  spRate?: number;
  /** MACs each activation feeds downstream, e.g. filters*k*k of the next conv (default 1). */
  fanOut?: number;
}

/** The temporal differences d_t = q_{t+1} - q_t and a 0/1 mask of valid pairs (or null). */
function temporalPairs(where: string, q: tf.Tensor, opts: SparsityOptions) {
  const axis = opts.timeAxis ?? 1;
  if (axis !== 0 && axis !== 1) throw new ConfigError({ op: where }, 'timeAxis', '0 or 1', axis);
  if (q.rank < axis + 2) {
    throw new ShapeError({ op: where }, 'q', `rank >= ${axis + 2}`, `rank ${q.rank} (shape ${shapeText(q.shape)})`);
  }
  const clip = opts.clipLength;
  if (clip !== undefined && (axis !== 0 || !Number.isInteger(clip) || clip <= 0)) {
    throw new ConfigError({ op: where }, 'clipLength', 'an integer > 0, used with timeAxis 0', clip);
  }
  const steps = q.shape[axis]!;
  const pairs = Math.max(steps - 1, 0);
  let valid = pairs;
  let mask: number[] | null = null;
  if (clip !== undefined) {
    mask = Array.from({ length: pairs }, (_, i) => ((i + 1) % clip === 0 ? 0 : 1));
    valid = mask.reduce((a, b) => a + b, 0);
  }
  const count = valid * (q.size / Math.max(steps, 1));
  return { axis, steps, count, mask };
}

/**
 * Temporal-sparsity penalty: spRate * fanOut * sum(|q_t - q_{t-1}|) / count, count = number of
 * temporal differences. Its gradient wrt q is the L1 subgradient (0 where q_t = q_{t-1}); the
 * sign flip that makes it push thresholds up lives in deltaQuantize (as in the authors' code).
 */
export function deltaSparsityLoss(q: tf.Tensor, options: SparsityLossOptions = {}): tf.Scalar {
  const spRate = options.spRate ?? 1;
  const fanOut = options.fanOut ?? 1;
  if (!(spRate >= 0) || !Number.isFinite(spRate)) {
    throw new ConfigError({ op: 'deltaSparsityLoss' }, 'spRate', 'a number >= 0', spRate);
  }
  if (!(fanOut > 0) || !Number.isFinite(fanOut)) {
    throw new ConfigError({ op: 'deltaSparsityLoss' }, 'fanOut', 'a number > 0', fanOut);
  }
  const { axis, steps, count, mask } = temporalPairs('deltaSparsityLoss', q, options);
  if (count === 0) return tf.mul(tf.sum(q), 0) as tf.Scalar;
  const factor = (spRate * fanOut) / count;
  const op = customOp((save, qt: tf.Tensor) => {
    const size = qt.shape.map((d, i) => (i === axis ? steps - 1 : d));
    const begin = qt.shape.map((_, i) => (i === axis ? 1 : 0));
    const d = tf.sub(tf.slice(qt, begin, size), tf.slice(qt, 0, size)); // q_{t+1} - q_t
    let s = tf.sign(d);
    if (mask) s = tf.mul(s, tf.reshape(tf.tensor1d(mask), size.map((n, i) => (i === 0 ? n : 1))));
    save([s]);
    const value = tf.mul(tf.sum(tf.mul(s, d)), factor); // factor * sum |d| over valid pairs
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      // d/dq_t sum |q_{t+1} - q_t| = s_{t-1} - s_t
      const sg = saved[0]!;
      const pad = (before: number): Array<[number, number]> =>
        sg.shape.map((_, i) => (i === axis ? [before, 1 - before] : [0, 0]) as [number, number]);
      return [tf.mul(tf.mul(dy, factor), tf.sub(tf.pad(sg, pad(1)), tf.pad(sg, pad(0))))];
    };
    return { value, gradFunc };
  });
  return op(q) as tf.Scalar;
}

/** Fraction of temporal deltas q_t - q_{t-1} that are exactly zero (= fraction of skipped MACs). */
export function temporalSparsity(q: tf.Tensor, timeAxis: 0 | 1 = 1, clipLength?: number): number {
  const { count, mask, axis, steps } = temporalPairs('temporalSparsity', q, { timeAxis, clipLength });
  if (count === 0) {
    throw new ShapeError({ op: 'temporalSparsity' }, 'q', 'at least 2 time steps in one clip', `${steps} (axis ${axis})`);
  }
  const nonzero = tf.tidy(() => {
    const size = q.shape.map((d, i) => (i === axis ? steps - 1 : d));
    const begin = q.shape.map((_, i) => (i === axis ? 1 : 0));
    let changed = tf.cast(tf.notEqual(tf.slice(q, begin, size), tf.slice(q, 0, size)), 'float32');
    if (mask) changed = tf.mul(changed, tf.reshape(tf.tensor1d(mask), size.map((d, i) => (i === 0 ? d : 1))));
    return tf.sum(changed).dataSync()[0]!;
  });
  return 1 - nonzero / count;
}
