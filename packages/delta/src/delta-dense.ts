/**
 * Float reference of delta-network inference for one dense layer (Neil et al., 2017), as in
 * blocks.md: keep the last transmitted input xhat (starts at 0) and an accumulator per output
 * that starts at the bias. Each step:
 *   d_i = x_i - xhat_i  if |x_i - xhat_i| >= thr_i (then xhat_i = x_i),  else 0
 *   acc += W^T d, skipping zero deltas (a skipped input saves `out` MACs)
 * The output after a step is acc = bias + W^T xhat (pre-activation: a nonlinearity applies to
 * acc, never to deltas), so |acc - dense(x)| <= sum_i thr_i * sum_j |W_ij|.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@tinyblocks/core';

type Matrix = tf.Tensor | ArrayLike<number> | ArrayLike<ArrayLike<number>>;
const where = { op: 'DeltaDense' };

function flat(m: Matrix): Float64Array {
  if (m instanceof tf.Tensor) return Float64Array.from(m.dataSync());
  const rows = m as ArrayLike<ArrayLike<number> | number>;
  if (rows.length > 0 && typeof rows[0] !== 'number') {
    return Float64Array.from(Array.from(rows as ArrayLike<ArrayLike<number>>).flatMap((r) => Array.from(r)));
  }
  return Float64Array.from(m as ArrayLike<number>);
}

export interface DeltaStats {
  steps: number;
  /** Input deltas that were exactly zero or below the threshold (not transmitted). */
  zeroDeltas: number;
  totalDeltas: number;
  /** zeroDeltas / totalDeltas: the fraction of MACs skipped. */
  zeroFraction: number;
  /** MACs executed: (transmitted deltas) * out. */
  macs: number;
  /** MACs of the dense layer over the same steps: steps * in * out. */
  denseMacs: number;
}

export class DeltaDense {
  readonly inputs: number;
  readonly outputs: number;
  private readonly w: Float64Array;
  private readonly bias: Float64Array;
  private readonly thr: Float64Array;
  private xhat!: Float64Array;
  private acc!: Float64Array;
  private stats!: Omit<DeltaStats, 'zeroFraction'>;

  /**
   * @param weights W as [in, out] (Tensor2D, row-major flat array or array of rows)
   * @param bias    [out]
   * @param thr     one threshold for all inputs, or one per input (>= 0)
   */
  constructor(weights: Matrix, bias: tf.Tensor | ArrayLike<number>, thr: number | ArrayLike<number>) {
    this.bias = flat(bias);
    this.outputs = this.bias.length;
    this.w = flat(weights);
    if (this.outputs === 0 || this.w.length % this.outputs !== 0) {
      throw new ShapeError(where, 'weights', `[in, ${this.outputs}] (out taken from bias)`, `${this.w.length} values`);
    }
    this.inputs = this.w.length / this.outputs;
    this.thr = typeof thr === 'number' ? new Float64Array(this.inputs).fill(thr) : Float64Array.from(thr);
    if (this.thr.length !== this.inputs || this.thr.some((t) => !(t >= 0) || !Number.isFinite(t))) {
      throw new ConfigError(where, 'thr', `a number >= 0 or ${this.inputs} of them`, Array.from(this.thr));
    }
    this.reset();
  }

  /** Back to the initial state: xhat = 0, acc = bias, counters 0. */
  reset(): void {
    this.xhat = new Float64Array(this.inputs);
    this.acc = Float64Array.from(this.bias);
    this.stats = { steps: 0, zeroDeltas: 0, totalDeltas: 0, macs: 0, denseMacs: 0 };
  }

  /** One time step; returns a copy of the accumulator (the pre-activation output). */
  step(x: ArrayLike<number>): Float64Array {
    if (x.length !== this.inputs) throw new ShapeError(where, 'x', `${this.inputs} values`, x.length);
    const { w, acc, xhat, outputs } = this;
    for (let i = 0; i < this.inputs; i++) {
      const d = x[i]! - xhat[i]!;
      if (d === 0 || Math.abs(d) < this.thr[i]!) {
        this.stats.zeroDeltas++;
        continue;
      }
      xhat[i] = x[i]!;
      for (let j = 0, k = i * outputs; j < outputs; j++, k++) acc[j] += w[k]! * d;
      this.stats.macs += outputs;
    }
    this.stats.steps++;
    this.stats.totalDeltas += this.inputs;
    this.stats.denseMacs += this.inputs * outputs;
    return Float64Array.from(acc);
  }

  getStats(): DeltaStats {
    const s = this.stats;
    return { ...s, zeroFraction: s.totalDeltas ? s.zeroDeltas / s.totalDeltas : 0 };
  }
}

export interface DeltaDenseRun extends DeltaStats {
  /** Accumulator after each step, [T][out]. */
  outputs: Float64Array[];
}

/** Runs T frames (Float32Array[] or a Tensor2D [T, in]) through a fresh DeltaDense. */
export function runDeltaDense(
  frames: ArrayLike<number>[] | tf.Tensor,
  weights: Matrix,
  bias: tf.Tensor | ArrayLike<number>,
  thr: number | ArrayLike<number>,
): DeltaDenseRun {
  const layer = new DeltaDense(weights, bias, thr);
  let rows: ArrayLike<number>[];
  if (frames instanceof tf.Tensor) {
    if (frames.rank !== 2) throw new ShapeError(where, 'frames', 'a Tensor2D [T, in]', `rank ${frames.rank}`);
    const data = frames.dataSync();
    const n = frames.shape[1]!;
    rows = Array.from({ length: frames.shape[0]! }, (_, t) => data.subarray(t * n, (t + 1) * n));
  } else {
    rows = frames;
  }
  const outputs = rows.map((x) => layer.step(x));
  return { outputs, ...layer.getStats() };
}
