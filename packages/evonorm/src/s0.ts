/**
 * EvoNorm-S0 (Liu et al. 2020, blocks.md), NHWC:
 *   y = x * sigmoid(v*x) / groupStd(x) * gamma + beta,
 *   groupStd = sqrt(biased variance over H, W and the channels of the group + eps).
 *
 * Everything runs on x viewed as [N, H, W, G, C/G] (a group is the axes 1, 2, 4):
 * forward:  sig = sigmoid(v*x),  s = rsqrt(var_group(x) + eps),  un = x*sig*s,  y = un*gamma + beta
 * gradient: g = dy*gamma (the gradient of un),  a = mean_group(g*un),  xhat = (x - mean_group(x))*s
 *           dx     = s * (g * (sig + v*x*sig*(1 - sig)) - xhat*a)
 *           dv     = sum_NHW(g*s * x^2*sig*(1 - sig)),  dgamma = sum_NHW(dy*un),  dbeta = sum_NHW(dy)
 * int8:     not elementwise: per-sample group mean/variance in integers, a fixed-point rsqrt and a
 *           sigmoid LUT after requantising v*x (a custom integer kernel).
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp, requirePositive } from '@tinyblocks/core';
import { EVONORM_DEFAULT_EPS, EVONORM_DEFAULT_GROUPS, perChannel, requireNHWC, resolveGroups } from './shared.js';

export interface EvoNormS0Options {
  /** Number of channel groups (default 32), reduced until it divides the channel count. */
  groups?: number;
  /** Added to the group variance (default 1e-5). */
  eps?: number;
}

type Saved7 = [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];

function evoNormS0Op(groups: number, eps: number) {
  return customOp((save, x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, v: tf.Tensor) => {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const grouped = [n, h, w, groups, c / groups];
    const perGroup = (p: tf.Tensor) => tf.reshape(p, [groups, c / groups]);
    const xg = tf.reshape(x, grouped);
    const [gamma5, v5] = [perGroup(gamma), perGroup(v)];
    const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
    const s = tf.rsqrt(tf.add(variance, eps)); // 1 / groupStd
    const sig = tf.sigmoid(tf.mul(v5, xg));
    const un = tf.mul(tf.mul(xg, sig), s);
    const value = tf.reshape(tf.add(tf.mul(un, gamma5), perGroup(beta)), x.shape);
    save([xg, mean, s, sig, un, gamma5, v5]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, smean, ss, ssig, sun, sgamma, sv] = saved as Saved7;
      const dy5 = tf.reshape(dy, grouped);
      const g = tf.mul(dy5, sgamma);
      const a = tf.mean(tf.mul(g, sun), [1, 2, 4], true);
      const xhat = tf.mul(tf.sub(sx, smean), ss);
      const dsig = tf.mul(ssig, tf.sub(1, ssig)); // sigmoid'(v*x)
      const dudx = tf.add(ssig, tf.mul(tf.mul(sv, sx), dsig));
      const dx = tf.reshape(tf.mul(ss, tf.sub(tf.mul(g, dudx), tf.mul(xhat, a))), x.shape);
      const sumNHW = (t: tf.Tensor) => tf.sum(tf.reshape(t, [-1, c]), 0); // 2-D: fast on wasm
      const dv = sumNHW(tf.mul(tf.mul(g, ss), tf.mul(tf.square(sx), dsig)));
      const dgamma = sumNHW(tf.mul(dy5, sun));
      return [dx, tf.reshape(dgamma, gamma.shape), tf.reshape(sumNHW(dy5), beta.shape), tf.reshape(dv, v.shape)];
    };
    return { value, gradFunc };
  });
}

/**
 * Functional EvoNorm-S0 on an NHWC tensor. gamma, beta, v: one value per channel ([C] tensors
 * such as tf.Variables, or number arrays).
 */
export function evoNormS0(
  x: tf.Tensor,
  gamma: tf.Tensor | number[],
  beta: tf.Tensor | number[],
  v: tf.Tensor | number[],
  options: EvoNormS0Options = {},
): tf.Tensor4D {
  const where = { op: 'evoNormS0' };
  const c = requireNHWC(where, 'x', x.shape);
  const eps = requirePositive(where, 'eps', options.eps ?? EVONORM_DEFAULT_EPS);
  const groups = resolveGroups(options.groups ?? EVONORM_DEFAULT_GROUPS, c, where);
  return evoNormS0Op(groups, eps)(
    x,
    perChannel(where, 'gamma', gamma, c),
    perChannel(where, 'beta', beta, c),
    perChannel(where, 'v', v, c),
  ) as tf.Tensor4D;
}
