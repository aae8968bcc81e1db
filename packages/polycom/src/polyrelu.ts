/**
 * PolyReLU (PolyCom, order 3): r = relu(x); y = w0*r^3 + w1*r^2 + w2*r + b  (blocks.md).
 * w = [w0, w1, w2] and b are shared by all channels; w0 multiplies the HIGHEST power.
 *
 * forward:  y = ((w0*r + w1)*r + w2)*r + b                      (Horner)
 * gradient: dy/dx  = step(x) * (3*w0*r^2 + 2*w1*r + w2)
 *           dy/dw  = [r^3, r^2, r],   dy/db = 1                 (summed over all elements)
 * int8:     elementwise with w, b frozen -> a 256-entry table built from polyReLUScalar.
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from '@tinyblocks/core';
import { bTensor, wTensor } from './params.js';

/** The float function for one value: the reference the int8 table is built from. */
export function polyReLUScalar(x: number, w: readonly number[], b: number): number {
  const r = x > 0 ? x : 0;
  return ((w[0]! * r + w[1]!) * r + w[2]!) * r + b;
}

const polyReLUOp = customOp((save, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
  const r = tf.relu(x);
  const [w0, w1, w2] = tf.unstack(tf.reshape(w, [3])) as [tf.Tensor, tf.Tensor, tf.Tensor];
  const value = tf.add(tf.mul(tf.add(tf.mul(tf.add(tf.mul(w0, r), w1), r), w2), r), b);
  save([r, w]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [sr, sw] = saved as [tf.Tensor, tf.Tensor];
    const [v0, v1, v2] = tf.unstack(tf.reshape(sw, [3])) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const slope = tf.add(tf.mul(tf.add(tf.mul(tf.mul(v0, 3), sr), tf.mul(v1, 2)), sr), v2); // 3w0 r^2 + 2w1 r + w2
    const dx = tf.mul(tf.mul(dy, slope), tf.step(sr)); // relu'(x): 1 where r > 0
    const dyr = tf.mul(dy, sr);
    const dyr2 = tf.mul(dyr, sr);
    const dyr3 = tf.mul(dyr2, sr);
    const dw = tf.reshape(tf.stack([tf.sum(dyr3), tf.sum(dyr2), tf.sum(dyr)]), sw.shape);
    const db = tf.reshape(tf.sum(dy), b.shape);
    return [dx, dw, db];
  };
  return { value, gradFunc };
});

/** Functional PolyReLU. `w` is a [3] tensor (e.g. a tf.Variable) or 3 numbers, `b` a scalar. */
export function polyReLU(x: tf.Tensor, w: tf.Tensor | number[], b: tf.Tensor | number): tf.Tensor {
  const where = { op: 'polyReLU' };
  return polyReLUOp(x, wTensor(where, w), bTensor(where, b));
}
