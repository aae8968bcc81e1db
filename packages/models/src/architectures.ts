import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError } from '@tinyblocks/core';
import { buildReference, type ModelInfo } from './reference.js';

export interface Architecture {
  description: string;
  build: (seed: number) => { model: tfl.LayersModel; info: ModelInfo };
}

/**
 * The classic TensorFlow.js tutorial CNN (tfjs-examples mnist): conv 5x5 8 relu -> max pool 2 ->
 * conv 5x5 16 relu -> max pool 2 -> flatten -> dropout -> dense 10 softmax. Standard layers only.
 */
export function buildTutorialCnn(seed = 1): { model: tfl.LayersModel; info: ModelInfo } {
  const init = (k: number) => tfl.initializers.varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'normal', seed: seed * 100 + k });
  const input = tfl.input({ shape: [28, 28, 1], name: 'image' });
  let x = tfl.layers.conv2d({ name: 'conv1', filters: 8, kernelSize: 5, activation: 'relu', kernelInitializer: init(1) }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ name: 'conv2', filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: init(2) }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten({ name: 'flat' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dropout({ name: 'drop', rate: 0.25, seed }).apply(x) as tfl.SymbolicTensor;
  const y = tfl.layers.dense({ name: 'fc', units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 100 + 3 }) }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: y, name: 'tutorial_cnn' });
  return { model, info: { arch: 'tutorial-cnn', inputShape: [28, 28, 1], numClasses: 10, outputRoles: ['logits'] } };
}

/** Architectures `tinyblocks train --arch <name>` knows. */
export const ARCHITECTURES: Record<string, Architecture> = {
  reference: {
    description: 'the shipped model: conv/EvoNorm/CRReLU/PolyCom trunk, 2 early exits, delta layer, concept bottleneck',
    build: (seed) => buildReference({ seed }),
  },
  'reference-wide': {
    description: 'the same graph at 1.25x width',
    build: (seed) => buildReference({ seed, width: 1.25 }),
  },
  'reference-small': {
    description: 'the same graph at half width (fast: tests and quick demos)',
    build: (seed) => buildReference({ seed, width: 0.5 }),
  },
  'tutorial-cnn': {
    description: 'the classic tfjs tutorial CNN (conv, max pooling, dropout, dense softmax): standard layers only',
    build: (seed) => buildTutorialCnn(seed),
  },
};

export function buildArchitecture(name: string, seed = 1): { model: tfl.LayersModel; info: ModelInfo } {
  const arch = Object.hasOwn(ARCHITECTURES, name) ? ARCHITECTURES[name] : undefined;
  if (!arch) throw new ConfigError({ op: 'train' }, 'arch', `one of ${Object.keys(ARCHITECTURES).join(', ')}`, name);
  return arch.build(seed);
}
