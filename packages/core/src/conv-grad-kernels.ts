/**
 * Conv gradient kernels for backends that lack them.
 *
 * tfjs-backend-wasm has no Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropInput or
 * DepthwiseConv2dNativeBackpropFilter kernel, so any conv layer fails to train there (plain and
 * fused convs both end in these kernels). We register them, written with ops the backend does
 * have (pad, strided slice, concat, matMul, mul, sum), for every backend that is missing them.
 * Layout NHWC only (what tf.layers uses by default).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from './errors.js';

type Info = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };
type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** Wraps an input TensorInfo as a Tensor that can be disposed without freeing the input. */
function wrap(info: Info, backend: tf.KernelBackend): tf.Tensor {
  (backend as unknown as { incRef(id: tf.DataId): void }).incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

/** Hands a Tensor's data to the engine as the kernel's output. */
function release(t: tf.Tensor, backend: tf.KernelBackend): Info {
  (backend as unknown as { incRef(id: tf.DataId): void }).incRef(t.dataId);
  const info = { dataId: t.dataId, shape: t.shape.slice(), dtype: t.dtype };
  t.dispose();
  return info;
}

function requireNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new ConfigError({ op: kernel }, 'dataFormat', "'NHWC'", dataFormat);
  }
}

/** The input window seen by filter tap (kh, kw), for every output position: [B, OH, OW, C]. */
function tap(xPadded: tf.Tensor4D, info: ConvInfo, kh: number, kw: number): tf.Tensor4D {
  const [b, , , c] = xPadded.shape;
  const top = kh * info.dilationHeight;
  const left = kw * info.dilationWidth;
  return tf.stridedSlice(
    xPadded,
    [0, top, left, 0],
    [b, top + info.strideHeight * (info.outHeight - 1) + 1, left + info.strideWidth * (info.outWidth - 1) + 1, c],
    [1, info.strideHeight, info.strideWidth, 1],
  ) as tf.Tensor4D;
}

/** Every filter tap's window, in filter order (kh major, kw minor). */
function allTaps(xPadded: tf.Tensor4D, info: ConvInfo): tf.Tensor4D[] {
  const taps: tf.Tensor4D[] = [];
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) taps.push(tap(xPadded, info, kh, kw));
  }
  return taps;
}

function padInput(x: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  const { top, bottom, left, right } = info.padInfo;
  return tf.pad(x, [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]]);
}

/**
 * dW[kh,kw,ci,co] = sum over b,oh,ow of xPadded[b, oh*s + kh*d, ow*s + kw*d, ci] * dy[b,oh,ow,co].
 * That is itself a convolution: channels and batch swap roles (x as [ci, H, W, b], dy as a
 * [OH, OW, b, co] filter dilated by the stride), so the backend's fast conv kernel does the work.
 */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  return tf.tidy(() => {
    if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return conv2dFilterGradTaps(x, dy, info);
    const xt = tf.transpose(padInput(x, info), [3, 1, 2, 0]) as tf.Tensor4D; // [ci, Hp, Wp, b]
    const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [OH, OW, b, co]
    const full = tf.conv2d(xt, f, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]); // [ci, >=kh, >=kw, co]
    const taps = tf.slice(full, [0, 0, 0, 0], [info.inChannels, info.filterHeight, info.filterWidth, info.outChannels]);
    return tf.transpose(taps, [1, 2, 0, 3]);
  });
}

/** The same gradient as im2col + one matMul (used for dilated convs). */
function conv2dFilterGradTaps(x: tf.Tensor4D, dy: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  const taps = allTaps(padInput(x, info), info);
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const patches = tf.reshape(taps.length === 1 ? taps[0]! : tf.concat(taps, 3), [-1, k]);
  const grad = tf.matMul(patches, tf.reshape(dy, [-1, info.outChannels]), true, false);
  return tf.reshape(grad, [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels]);
}

/**
 * Depthwise filter gradient. With one filter per channel (multiplier 1) it is a depthwise
 * convolution over (channel, sample) pairs: x as [1, Hp, Wp, c*b], dy as a [OH, OW, c*b, 1]
 * filter dilated by the stride, then summed over samples. Other cases use per-tap products.
 */
export function depthwiseFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  return tf.tidy(() => {
    const c = info.inChannels;
    const m = info.outChannels / c;
    const b = x.shape[0];
    if (m === 1 && info.dilationHeight === 1 && info.dilationWidth === 1) {
      const xp = padInput(x, info);
      const xt = tf.reshape(tf.transpose(xp, [1, 2, 3, 0]), [1, xp.shape[1], xp.shape[2], c * b]) as tf.Tensor4D;
      const f = tf.reshape(tf.transpose(dy, [1, 2, 3, 0]), [info.outHeight, info.outWidth, c * b, 1]);
      const full = tf.depthwiseConv2d(xt, f as tf.Tensor4D, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
      const taps = tf.slice(full, [0, 0, 0, 0], [1, info.filterHeight, info.filterWidth, c * b]);
      return tf.reshape(tf.sum(tf.reshape(taps, [info.filterHeight, info.filterWidth, c, b]), 3), [info.filterHeight, info.filterWidth, c, 1]);
    }
    const dy5 = tf.reshape(dy, [1, -1, c, m]);
    const taps = allTaps(padInput(x, info), info).map((t) => tf.reshape(t, [-1, c, 1]));
    const grad = tf.sum(tf.mul(tf.stack(taps), dy5), 1); // [K*K, C, M]
    return tf.reshape(grad, [info.filterHeight, info.filterWidth, c, m]);
  });
}

/** Places values computed per output position back on the (padded) input grid for one tap. */
function scatterTap(v: tf.Tensor4D, info: ConvInfo, kh: number, kw: number, hp: number, wp: number): tf.Tensor4D {
  const [b, oh, ow, c] = v.shape;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  let up: tf.Tensor4D = v;
  if (sh > 1 || sw > 1) {
    const spread = tf.pad(tf.reshape(v, [b, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
    up = tf.reshape(spread, [b, oh * sh, ow * sw, c]);
  }
  const top = kh * info.dilationHeight;
  const left = kw * info.dilationWidth;
  const h = Math.min(up.shape[1], hp - top);
  const w = Math.min(up.shape[2], wp - left);
  if (h !== up.shape[1] || w !== up.shape[2]) up = tf.slice(up, [0, 0, 0, 0], [b, h, w, c]);
  return tf.pad(up, [[0, 0], [top, hp - top - h], [left, wp - left - w], [0, 0]]);
}


/**
 * dy spread back over the input grid for a transposed convolution: zeros between rows/columns
 * (stride), then padded so that a stride-1 'valid' conv with the flipped filter yields dx.
 */
function spreadForTranspose(dy: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  const [b, oh, ow, c] = dy.shape;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  let d: tf.Tensor4D = dy;
  if (sh > 1 || sw > 1) {
    const spread = tf.pad(tf.reshape(dy, [b, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
    d = tf.slice(tf.reshape(spread, [b, oh * sh, ow * sw, c]), 0, [b, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c]) as tf.Tensor4D;
  }
  const top = info.filterHeight - 1 - info.padInfo.top;
  const left = info.filterWidth - 1 - info.padInfo.left;
  const bottom = info.inHeight + info.filterHeight - 1 - top - d.shape[1];
  const right = info.inWidth + info.filterWidth - 1 - left - d.shape[2];
  return padOrCrop(d, top, bottom, left, right);
}

/** Pads (positive) or crops (negative) rows and columns of an NHWC tensor. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const t0 = Math.max(0, -top), b0 = Math.max(0, -bottom), l0 = Math.max(0, -left), r0 = Math.max(0, -right);
  const cropped = t0 || b0 || l0 || r0 ? tf.slice(x, [0, t0, l0, 0], [b, h - t0 - b0, w - l0 - r0, c]) : x;
  const p = [Math.max(0, top), Math.max(0, bottom), Math.max(0, left), Math.max(0, right)];
  return p.some((v) => v > 0) ? tf.pad(cropped, [[0, 0], [p[0]!, p[1]!], [p[2]!, p[3]!], [0, 0]]) : cropped;
}

/** Conv input gradient as a stride-1 conv of the spread dy with the flipped, transposed filter. */
export function conv2dInputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  return tf.tidy(() => {
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(spreadForTranspose(dy, info), flipped, 1, 'valid');
  });
}

/** Depthwise input gradient: every tap's dy * w scattered back to where that tap read from. */
export function depthwiseInputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  return tf.tidy(() => {
    const c = info.inChannels;
    const m = info.outChannels / c;
    if (m === 1 && info.dilationHeight === 1 && info.dilationWidth === 1) {
      return tf.depthwiseConv2d(spreadForTranspose(dy, info), tf.reverse(filter, [0, 1]) as tf.Tensor4D, 1, 'valid');
    }
    const { top, left, bottom, right } = info.padInfo;
    const hp = info.inHeight + top + Math.max(bottom, 0);
    const wp = info.inWidth + left + Math.max(right, 0);
    const dy5 = tf.reshape(dy, [...dy.shape.slice(0, 3), c, m]);
    const parts: tf.Tensor4D[] = [];
    for (let kh = 0; kh < info.filterHeight; kh++) {
      for (let kw = 0; kw < info.filterWidth; kw++) {
        const w = tf.reshape(tf.slice(filter, [kh, kw, 0, 0], [1, 1, c, m]), [c, m]);
        const v = m === 1 ? tf.mul(tf.reshape(dy5, dy.shape), tf.reshape(w, [c])) : tf.sum(tf.mul(dy5, w), 4);
        parts.push(scatterTap(v as tf.Tensor4D, info, kh, kw, hp, wp));
      }
    }
    const full = parts.length === 1 ? parts[0]! : (tf.addN(parts) as tf.Tensor4D);
    return tf.slice(full, [0, top, left, 0], [full.shape[0], info.inHeight, info.inWidth, c]);
  });
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
  depthwise: boolean,
): ConvInfo {
  const dilations = (attrs['dilations'] as number | [number, number] | undefined) ?? 1;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs['strides'] as [number, number],
    dilations,
    attrs['pad'] as 'valid' | 'same',
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    depthwise,
  );
}

type GradKernel = (args: KernelArgs) => Info;

const kernels: Record<string, GradKernel> = {
  Conv2DBackpropFilter: ({ inputs, backend, attrs = {} }) => {
    requireNHWC('Conv2DBackpropFilter', attrs['dataFormat']);
    const x = wrap(inputs['x']!, backend) as tf.Tensor4D;
    const dy = wrap(inputs['dy']!, backend) as tf.Tensor4D;
    const info = convInfo(x.shape, attrs['filterShape'] as number[], attrs, false);
    const out = conv2dFilterGrad(x, dy, info);
    tf.dispose([x, dy]);
    return release(out, backend);
  },
  DepthwiseConv2dNativeBackpropFilter: ({ inputs, backend, attrs = {} }) => {
    const x = wrap(inputs['x']!, backend) as tf.Tensor4D;
    const dy = wrap(inputs['dy']!, backend) as tf.Tensor4D;
    const info = convInfo(x.shape, attrs['filterShape'] as number[], attrs, true);
    const out = depthwiseFilterGrad(x, dy, info);
    tf.dispose([x, dy]);
    return release(out, backend);
  },
  Conv2DBackpropInput: ({ inputs, backend, attrs = {} }) => {
    requireNHWC('Conv2DBackpropInput', attrs['dataFormat']);
    const dy = wrap(inputs['dy']!, backend) as tf.Tensor4D;
    const filter = wrap(inputs['filter']!, backend) as tf.Tensor4D;
    const info = convInfo(attrs['inputShape'] as number[], filter.shape, attrs, false);
    const out = conv2dInputGrad(dy, filter, info);
    tf.dispose([dy, filter]);
    return release(out, backend);
  },
  DepthwiseConv2dNativeBackpropInput: ({ inputs, backend, attrs = {} }) => {
    const dy = wrap(inputs['dy']!, backend) as tf.Tensor4D;
    const filter = wrap(inputs['filter']!, backend) as tf.Tensor4D;
    const info = convInfo(attrs['inputShape'] as number[], filter.shape, attrs, true);
    const out = depthwiseInputGrad(dy, filter, info);
    tf.dispose([dy, filter]);
    return release(out, backend);
  },
};

/**
 * Kernels a backend has but runs far slower than the conv-based version here (wasm's
 * Conv2DBackpropInput is a plain loop; its forward conv uses XNNPACK). Measured by npm run bench.
 */
const REPLACE: Record<string, string[]> = { wasm: ['Conv2DBackpropInput'] };

/**
 * Registers the conv gradient kernels `backendName` is missing, and with `replace` (once the
 * backend's own kernels are loaded) swaps in the faster versions listed in REPLACE; returns the
 * names it registered.
 */
export function registerConvGradKernels(backendName: string, { replace = true } = {}): string[] {
  const added: string[] = [];
  for (const [kernelName, fn] of Object.entries(kernels)) {
    const existing = tf.getKernel(kernelName, backendName);
    if (existing?.kernelFunc === (fn as unknown)) continue; // ours already
    const isReplacement = REPLACE[backendName]?.includes(kernelName) ?? false;
    // a replacement goes in only when asked; any other kernel only where the backend has none
    if (isReplacement ? !replace : existing != null) continue;
    if (existing != null) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: fn as unknown as tf.KernelFunc });
    added.push(kernelName);
  }
  return added;
}
