/**
 * EvoNorm-B0 (Liu et al. 2020, blocks.md), NHWC:
 *   y = x / max(sqrt(batchVariance + eps), v*x + instanceStd(x)) * gamma + beta,
 *   instanceStd = sqrt(biased variance over H, W per sample and channel + eps).
 * batchVariance is per channel: the batch's own (batchVariance(x)) in training, the moving
 * variance at inference. The instance term is always computed per sample.
 *
 * forward:  bstd = sqrt(bvar + eps),  inst = v*x + istd,  d = max(bstd, inst),  y = x/d*gamma + beta
 * gradient: g = dy*gamma,  dd = -g*x/d^2,  split by the winner of the max (ties go to bstd):
 *           dd_i = dd where inst won, dd_b = dd where bstd won
 *           dx     = g/d + v*dd_i + (x - mean_HW(x)) * mean_HW(dd_i) / istd
 *           dv     = sum_NHW(dd_i*x),  dbvar = sum_NHW(dd_b) / (2*bstd)
 *           dgamma = sum_NHW(dy*x/d),  dbeta = sum_NHW(dy)
 *           batchVariance(x) passes dbvar on to x:  dx += dbvar * 2*(x - mean_NHW(x)) / (N*H*W)
 * int8:     not elementwise: per-sample integer mean/variance, a fixed-point sqrt/division; the
 *           batch term is a per-channel constant (the moving variance) at inference.
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp, requirePositive } from '@tinyblocks/core';
import { EVONORM_DEFAULT_EPS, perChannel, requireNHWC } from './shared.js';

export interface EvoNormB0Options {
  /** Added to both variances (default 1e-5). */
  eps?: number;
}

const batchVarianceOp = customOp((save, x: tf.Tensor) => {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  save([x, mean]);
  const count = x.size / x.shape[3]!;
  const gradFunc = (dvar: tf.Tensor, saved: tf.Tensor[]) => {
    const [sx, smean] = saved as [tf.Tensor, tf.Tensor];
    return [tf.mul(tf.sub(sx, smean), tf.mul(dvar, 2 / count))];
  };
  return { value: variance, gradFunc };
});

/** Biased variance over N, H, W per channel of an NHWC tensor ([C]), with a cheap gradient. */
export function batchVariance(x: tf.Tensor): tf.Tensor1D {
  requireNHWC({ op: 'batchVariance' }, 'x', x.shape);
  return batchVarianceOp(x) as tf.Tensor1D;
}

type Saved9 = [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];

function evoNormB0Op(eps: number) {
  return customOp((save, x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, v: tf.Tensor, bvar: tf.Tensor) => {
    const c = x.shape[3]!;
    const { mean, variance } = tf.moments(x, [1, 2], true); // per sample and channel
    const istd = tf.sqrt(tf.add(variance, eps));
    const bstd = tf.sqrt(tf.add(tf.reshape(bvar, [c]), eps));
    const inst = tf.add(tf.mul(v, x), istd);
    // max(bstd, inst) as bstd + relu(inst - bstd), and the mask as step(inst - bstd) (ties go to
    // the batch term): the wasm backend runs broadcast Maximum / Greater several times slower.
    const gap = tf.sub(inst, bstd);
    const instWins = tf.step(gap);
    const d = tf.add(bstd, tf.relu(gap));
    const xn = tf.div(x, d);
    const value = tf.add(tf.mul(xn, gamma), beta);
    save([x, mean, istd, bstd, instWins, d, xn, gamma, v]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, smean, sistd, sbstd, swins, sd, sxn, sgamma, sv] = saved as Saved9;
      const sumNHW = (t: tf.Tensor) => tf.sum(tf.reshape(t, [-1, c]), 0);
      const g = tf.mul(dy, sgamma);
      const dd = tf.neg(tf.div(tf.mul(g, sxn), sd));
      const ddInst = tf.mul(dd, swins);
      const ddBatch = tf.sub(dd, ddInst);
      const dx = tf.add(
        tf.add(tf.div(g, sd), tf.mul(ddInst, sv)),
        tf.div(tf.mul(tf.sub(sx, smean), tf.mean(ddInst, [1, 2], true)), sistd),
      );
      const dbvar = tf.div(sumNHW(ddBatch), tf.mul(sbstd, 2));
      return [
        dx,
        tf.reshape(sumNHW(tf.mul(dy, sxn)), gamma.shape),
        tf.reshape(sumNHW(dy), beta.shape),
        tf.reshape(sumNHW(tf.mul(ddInst, sx)), v.shape),
        tf.reshape(dbvar, bvar.shape),
      ];
    };
    return { value, gradFunc };
  });
}

/**
 * Functional EvoNorm-B0 on an NHWC tensor. gamma, beta, v: [C] tensors or number arrays.
 * batchVariance: [C]; pass `batchVariance(x)` to train in batch mode (its gradient reaches x),
 * or the moving variance for inference.
 */
export function evoNormB0(
  x: tf.Tensor,
  gamma: tf.Tensor | number[],
  beta: tf.Tensor | number[],
  v: tf.Tensor | number[],
  batchVar: tf.Tensor | number[],
  options: EvoNormB0Options = {},
): tf.Tensor4D {
  const where = { op: 'evoNormB0' };
  const c = requireNHWC(where, 'x', x.shape);
  const eps = requirePositive(where, 'eps', options.eps ?? EVONORM_DEFAULT_EPS);
  return evoNormB0Op(eps)(
    x,
    perChannel(where, 'gamma', gamma, c),
    perChannel(where, 'beta', beta, c),
    perChannel(where, 'v', v, c),
    perChannel(where, 'batchVariance', batchVar, c),
  ) as tf.Tensor4D;
}
