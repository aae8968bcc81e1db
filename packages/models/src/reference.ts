/**
 * The reference Fashion-MNIST architecture, built from every tinyblocks block:
 *
 *   image 28x28x1
 *   conv1  3x3, 16            -> EvoNorm B0                      28x28x16
 *   conv2  3x3 stride 2, 32   -> CRReLU                          14x14x32  -> exit1 (early-exit head:
 *                                                                            [avg, max] of each 7x7 quadrant)
 *   conv3  1x1, 64            -> EvoNorm S0 (8 groups)           14x14x64
 *   dw4    3x3 depthwise      -> PolyReLU                        14x14x64
 *   dw5    3x3 depthwise s2, conv5 1x1 64 -> CRReLU               7x7x64   -> exit2 (early-exit head:
 *                                                                            global [avg, max])
 *   pool6  2x2 avg, flatten   -> Delta (batch axis = frames)     1024
 *   fc7    dense 128          -> PolyNorm                        128
 *   cbm    concept bottleneck: 8 class-level concepts; the head reads their logits -> 10 logits
 *
 * Outputs, in order: final logits, exit1 logits, exit2 logits, concept probabilities.
 * The layer shapes follow the kernels benchmarked on Cortex-M (conv 3x3 28x28x1->16, conv 3x3 s2
 * 16->32, conv 1x1 32->64, depthwise 3x3 64 channels, dense 1024->128).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '@tinyblocks/core';
import { crreluLayer } from '@tinyblocks/crrelu';
import { polyNormLayer, polyReLULayer } from '@tinyblocks/polycom';
import { deltaLayer } from '@tinyblocks/delta';
import { evoNormB0Layer, evoNormS0Layer } from '@tinyblocks/evonorm';
import { conceptBottleneck } from '@tinyblocks/concept-bottleneck';
import { earlyExitHead } from '@tinyblocks/early-exit';
import { FASHION_CONCEPTS } from '@tinyblocks/datasets';

export type OutputRole = 'logits' | 'exit' | 'concepts';

/** What a trained model carries in its metadata so tools know what each output means. */
export interface ModelInfo {
  arch: string;
  inputShape: [number, number, number];
  numClasses: number;
  outputRoles: OutputRole[];
  conceptNames?: string[];
  /** One max-softmax threshold per exit head, tuned by `tinyblocks retrain-exits` (default for export). */
  exitThresholds?: number[];
}

export interface ReferenceOptions {
  /** Channel multiplier (1 = the shipped model). */
  width?: number;
  seed?: number;
  /** Frames per clip seen by the delta layer's sparsity loss during stream training steps. */
  clipLength?: number;
}

export function buildReference(options: ReferenceOptions = {}): { model: tfl.LayersModel; info: ModelInfo } {
  const width = options.width ?? 1;
  const rng = new Rng(options.seed ?? 1);
  // heads and the concept bottleneck take their own seeds (not drawn from rng, so the convs keep theirs)
  const ownSeed = (k: number) => (options.seed ?? 1) * 1000 + k;
  const ch = (n: number) => Math.max(4, Math.round(n * width));
  const init = () => tfl.initializers.glorotUniform({ seed: rng.seed() });
  const conv = (name: string, filters: number, kernelSize: number, strides = 1, useBias = true) =>
    tfl.layers.conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias, kernelInitializer: init() });
  const dw = (name: string, strides: number) =>
    tfl.layers.depthwiseConv2d({ name, kernelSize: 3, strides, padding: 'same', depthwiseInitializer: init() });
  const apply = (layer: { apply: (x: tfl.SymbolicTensor) => unknown }, x: tfl.SymbolicTensor) => layer.apply(x) as tfl.SymbolicTensor;

  const image = tfl.input({ shape: [28, 28, 1], name: 'image' });
  let x = apply(conv('conv1', ch(16), 3, 1, false), image);
  x = apply(evoNormB0Layer({ name: 'norm1' }), x);
  x = apply(conv('conv2', ch(32), 3, 2), x);
  x = apply(crreluLayer({ name: 'act2' }), x);
  const exit1 = apply(earlyExitHead({ name: 'exit1', numClasses: 10, pooling: 'concat', grid: 2, seed: ownSeed(1) }), x);
  x = apply(conv('conv3', ch(64), 1, 1, false), x);
  x = apply(evoNormS0Layer({ name: 'norm3', groups: 8 }), x);
  x = apply(dw('dw4', 1), x);
  x = apply(polyReLULayer({ name: 'act4' }), x);
  x = apply(dw('dw5', 2), x);
  x = apply(conv('conv5', ch(64), 1), x);
  x = apply(crreluLayer({ name: 'act5' }), x);
  const exit2 = apply(earlyExitHead({ name: 'exit2', numClasses: 10, pooling: 'concat', seed: ownSeed(2) }), x);
  x = apply(tfl.layers.averagePooling2d({ name: 'pool6', poolSize: 2, strides: 2, padding: 'same' }), x);
  x = apply(tfl.layers.flatten({ name: 'flat6' }), x);
  x = apply(deltaLayer({ name: 'delta6', timeAxis: 0, clipLength: options.clipLength ?? 16, spRate: 1e-4, thresholdInit: 0.05 }), x);
  x = apply(tfl.layers.dense({ name: 'fc7', units: ch(128), kernelInitializer: init() }), x);
  x = apply(polyNormLayer({ name: 'norm7' }), x);
  const [logits, concepts] = conceptBottleneck({ name: 'cbm', numConcepts: FASHION_CONCEPTS.length, numClasses: 10, bottleneck: 'logit', seed: ownSeed(3) }).apply(
    x,
  ) as tfl.SymbolicTensor[];

  const model = tfl.model({ name: 'reference', inputs: image, outputs: [logits!, exit1, exit2, concepts!] });
  const info: ModelInfo = {
    arch: width === 1 ? 'reference' : `reference-w${width}`,
    inputShape: [28, 28, 1],
    numClasses: 10,
    outputRoles: ['logits', 'exit', 'exit', 'concepts'],
    conceptNames: [...FASHION_CONCEPTS],
  };
  return { model, info };
}
