/**
 * PolyNorm (PolyCom, order 3): y = w0*norm(x^3) + w1*norm(x^2) + w2*norm(x) + b  (blocks.md),
 * norm(z) = z * rsqrt(mean(z^2 over the LAST axis) + eps): RMS norm, no mean, no gain.
 *
 * forward:  for z_k = x^k:  s_k = rsqrt(mean(z_k^2) + eps),  n_k = z_k * s_k
 *           y = w0*n_3 + w1*n_2 + w2*n_1 + b
 * gradient: RMS-norm backward for each term, with u = dy (the upstream gradient):
 *           dL/dz_k = w_k' * s_k * (u - n_k * mean(u * n_k))         (mean over the last axis)
 *           dL/dx   = dL/dz_1 + 2x * dL/dz_2 + 3x^2 * dL/dz_3
 *           dL/dw_k' = sum(u * n_k),  dL/db = sum(u)                  (w_k' = the weight of n_k)
 * int8:     not elementwise: per-vector sums of x^2, x^4, x^6 in int32/int64 and a fixed-point
 *           rsqrt (a custom integer kernel).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, customOp, requirePositive } from '@tinyblocks/core';
import { bTensor, wTensor } from './params.js';

export const POLYNORM_DEFAULT_EPS = 1e-6;

type Saved7 = [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];

function polyNormOp(eps: number) {
  return customOp((save, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
    const x2 = tf.square(x);
    const x3 = tf.mul(x2, x);
    const invRms = (z: tf.Tensor) => tf.rsqrt(tf.add(tf.mean(tf.square(z), -1, true), eps));
    const [s1, s2, s3] = [invRms(x), invRms(x2), invRms(x3)];
    const [w0, w1, w2] = tf.unstack(tf.reshape(w, [3])) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const value = tf.add(
      tf.add(tf.mul(w0, tf.mul(x3, s3)), tf.mul(w1, tf.mul(x2, s2))),
      tf.add(tf.mul(w2, tf.mul(x, s1)), b),
    );
    save([x, x2, x3, s1, s2, s3, w]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sx2, sx3, t1, t2, t3, sw] = saved as Saved7;
      const depth = sx.shape[sx.rank - 1]!;
      // For one term n = z*s: returns [sum(dy*n), s*(dy - n*mean(dy*n))] (the latter times w_k = dL/dz).
      const term = (z: tf.Tensor, s: tf.Tensor): [tf.Tensor, tf.Tensor] => {
        const n = tf.mul(z, s);
        const m = tf.mean(tf.mul(dy, n), -1, true);
        return [tf.mul(tf.sum(m), depth), tf.mul(s, tf.sub(dy, tf.mul(n, m)))];
      };
      const [g1, dz1] = term(sx, t1);
      const [g2, dz2] = term(sx2, t2);
      const [g3, dz3] = term(sx3, t3);
      const [v0, v1, v2] = tf.unstack(tf.reshape(sw, [3])) as [tf.Tensor, tf.Tensor, tf.Tensor];
      const dx = tf.add(
        tf.mul(v2, dz1),
        tf.add(tf.mul(tf.mul(v1, 2), tf.mul(sx, dz2)), tf.mul(tf.mul(v0, 3), tf.mul(sx2, dz3))),
      );
      const dw = tf.reshape(tf.stack([g3, g2, g1]), sw.shape);
      const db = tf.reshape(tf.sum(dy), b.shape);
      return [dx, dw, db];
    };
    return { value, gradFunc };
  });
}

/**
 * Functional PolyNorm over the last axis of `x`. `w` is a [3] tensor or 3 numbers (w0 for the
 * cube), `b` a scalar tensor or number, `eps` inside the rsqrt (default 1e-6).
 */
export function polyNorm(
  x: tf.Tensor,
  w: tf.Tensor | number[],
  b: tf.Tensor | number,
  eps = POLYNORM_DEFAULT_EPS,
): tf.Tensor {
  const where = { op: 'polyNorm' };
  requirePositive(where, 'eps', eps);
  if (x.rank < 1) throw new ShapeError(where, 'x', 'rank >= 1 (normalised over the last axis)', 'rank 0');
  return polyNormOp(eps)(x, wTensor(where, w), bTensor(where, b));
}
