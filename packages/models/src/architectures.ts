import type * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError } from '@tinyblocks/core';
import { buildReference, type ModelInfo } from './reference.js';

export interface Architecture {
  description: string;
  build: (seed: number) => { model: tfl.LayersModel; info: ModelInfo };
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
};

export function buildArchitecture(name: string, seed = 1): { model: tfl.LayersModel; info: ModelInfo } {
  const arch = Object.hasOwn(ARCHITECTURES, name) ? ARCHITECTURES[name] : undefined;
  if (!arch) throw new ConfigError({ op: 'train' }, 'arch', `one of ${Object.keys(ARCHITECTURES).join(', ')}`, name);
  return arch.build(seed);
}
