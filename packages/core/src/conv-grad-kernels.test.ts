import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { Rng } from './rng.js';

/** Independent float64 reference: direct-loop conv / depthwise conv (NHWC, zero padding). */
function convRef(
  x: Float64Array, [n, h, w, c]: number[], f: Float64Array, [kh, kw, fc, co]: number[],
  stride: number, pad: 'same' | 'valid', depthwise: boolean,
) {
  const oh = pad === 'same' ? Math.ceil(h / stride) : Math.ceil((h - kh + 1) / stride);
  const ow = pad === 'same' ? Math.ceil(w / stride) : Math.ceil((w - kw + 1) / stride);
  const pt = pad === 'same' ? Math.max(0, Math.floor(((oh - 1) * stride + kh - h) / 2)) : 0;
  const pl = pad === 'same' ? Math.max(0, Math.floor(((ow - 1) * stride + kw - w) / 2)) : 0;
  const outC = depthwise ? c * co : co;
  const y = new Float64Array(n * oh * ow * outC);
  for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let o = 0; o < outC; o++) {
    let s = 0;
    for (let a = 0; a < kh; a++) for (let d = 0; d < kw; d++) {
      const yi = i * stride + a - pt, xj = j * stride + d - pl;
      if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
      if (depthwise) {
        const ch = Math.floor(o / co), m = o % co;
        s += x[((b * h + yi) * w + xj) * c + ch]! * f[((a * kw + d) * fc + ch) * co + m]!;
      } else {
        for (let ci = 0; ci < c; ci++) s += x[((b * h + yi) * w + xj) * c + ci]! * f[((a * kw + d) * fc + ci) * co + o]!;
      }
    }
    y[((b * oh + i) * ow + j) * outC + o] = s;
  }
  return y;
}

function rand(n: number, seed: number) {
  const r = new Rng(seed);
  return Float64Array.from({ length: n }, () => r.uniform(-1, 1));
}

/** d/dparam of sum(proj * conv(x, f)) by central differences on the float64 reference. */
function numericGrad(which: 'x' | 'f', x: Float64Array, xs: number[], f: Float64Array, fs: number[], s: number, p: 'same' | 'valid', dw: boolean, proj: Float64Array) {
  const target = which === 'x' ? x : f;
  const g = new Float64Array(target.length);
  const loss = () => convRef(x, xs, f, fs, s, p, dw).reduce((a, v, i) => a + v * proj[i]!, 0);
  for (let i = 0; i < target.length; i++) {
    const v = target[i]!;
    target[i] = v + 1e-4; const up = loss();
    target[i] = v - 1e-4; const down = loss();
    target[i] = v;
    g[i] = (up - down) / 2e-4;
  }
  return g;
}

const cases: Array<[number, 'same' | 'valid', number]> = [[1, 'same', 3], [2, 'same', 3], [2, 'valid', 3], [1, 'valid', 1], [2, 'same', 1]];

describe.each(['wasm', 'cpu'] as const)('conv gradients on %s', (backend) => {
  it.each(cases)('conv2d and depthwise stride %i pad %s kernel %i match finite differences', async (stride, pad, k) => {
    await initBackend(backend);
    const xs = [2, 6, 7, 3];
    const x = rand(2 * 6 * 7 * 3, 1);
    for (const dw of [false, true]) {
      const fs = dw ? [k, k, 3, 2] : [k, k, 3, 4];
      const f = rand(fs.reduce((a, b) => a * b), 2);
      const y = convRef(x, xs, f, fs, stride, pad, dw);
      const proj = rand(y.length, 3);
      const [gx, gf] = tf.tidy(() => {
        const loss = (xt: tf.Tensor, ft: tf.Tensor) => {
          const out = dw
            ? tf.depthwiseConv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, stride, pad)
            : tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, stride, pad);
          return tf.sum(tf.mul(out, tf.tensor(Array.from(proj), out.shape)));
        };
        const g = tf.grads(loss)([tf.tensor(Array.from(x), xs), tf.tensor(Array.from(f), fs)]);
        return [g[0]!.dataSync(), g[1]!.dataSync()];
      });
      const nx = numericGrad('x', x, xs, f, fs, stride, pad, dw, proj);
      const nf = numericGrad('f', x, xs, f, fs, stride, pad, dw, proj);
      nx.forEach((v, i) => expect(gx[i]).toBeCloseTo(v, 3));
      nf.forEach((v, i) => expect(gf[i]).toBeCloseTo(v, 3));
    }
  });
});

describe('wasm conv gradient kernels', () => {
  it('are registered on wasm (which lacks them) and not leaking tensors', async () => {
    await initBackend('wasm');
    for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter']) {
      expect(tf.getKernel(k, 'wasm')).toBeDefined();
    }
    const x = tf.ones([1, 5, 5, 2]);
    const dy = tf.ones([1, 3, 3, 2]);
    const filter = tf.ones([3, 3, 2, 1]);
    const attrs = { strides: [2, 2], pad: 'same', dilations: [1, 1] };
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    const outs = [
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 2, 2], dataFormat: 'NHWC' }),
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 2, 1] }),
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...attrs, inputShape: [1, 5, 5, 2] }),
    ] as tf.Tensor[];
    expect(outs.map((t) => t.shape)).toEqual([[3, 3, 2, 2], [3, 3, 2, 1], [1, 5, 5, 2]]);
    tf.dispose(outs);
    expect(tf.memory().numBytes).toBe(bytesBefore);
    // inputs are still readable (the kernels did not free them)
    expect(Array.from(x.dataSync())).toEqual(new Array(50).fill(1));
    expect(tf.memory().numTensors).toBe(before);
  });
});
