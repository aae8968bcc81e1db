/**
 * CRReLU: f(x) = relu(x) + eps * x * exp(-x^2 / 2), one learnable scalar eps (blocks.md).
 *
 * forward:  y = relu(x) + eps * x * g,          g = exp(-x^2 / 2)
 * gradient: dy/dx   = step(x) + eps * g * (1 - x^2)
 *           dy/deps = x * g
 * int8:     elementwise with eps frozen -> a 256-entry table (crreluScalar is the float function).
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from '@tinyblocks/core';

export const CRRELU_DEFAULT_EPS = 0.01;

/** The float function for one value: the reference the int8 table is built from. */
export function crreluScalar(x: number, eps: number): number {
  return Math.max(x, 0) + eps * x * Math.exp(-(x * x) / 2);
}

const crreluOp = customOp((save, x: tf.Tensor, eps: tf.Tensor) => {
  const g = tf.exp(tf.mul(tf.square(x), -0.5));
  save([x, eps, g]);
  const value = tf.add(tf.relu(x), tf.mul(eps, tf.mul(x, g)));
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [sx, seps, sg] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const dx = tf.mul(dy, tf.add(tf.step(sx), tf.mul(seps, tf.mul(sg, tf.sub(1, tf.square(sx))))));
    const deps = tf.reshape(tf.sum(tf.mul(dy, tf.mul(sx, sg))), seps.shape);
    return [dx, deps];
  };
  return { value, gradFunc };
});

/** Functional CRReLU on tfjs-core. `eps` is a scalar tensor (e.g. a tf.Variable) or a number. */
export function crrelu(x: tf.Tensor, eps: tf.Scalar | number = CRRELU_DEFAULT_EPS): tf.Tensor {
  const e = typeof eps === 'number' ? tf.scalar(eps) : eps;
  return crreluOp(x, e);
}
