/**
 * Class-level concepts for Fashion-MNIST (it has no per-image concept labels): every image gets
 * the concept vector of its class, as CUB's class-level attributes were used for concept
 * bottleneck models. The README justifies each entry.
 */
import { DataError } from '@tinyblocks/core/base';
import { FASHION_MNIST_CLASSES } from './classes.js';

export const FASHION_CONCEPTS = [
  'upper body', // covers the torso
  'lower body', // covers the legs
  'footwear', // worn on the foot
  'carried', // held or carried, not worn
  'front opening', // buttons or zip down the front
  'heavy fabric', // knit or padded, worn for warmth
  'high top', // covers the ankle
  'open', // straps, toes or heel visible
] as const;

/** Rows: classes in FASHION_MNIST_CLASSES order; columns: FASHION_CONCEPTS. */
export const CONCEPT_TABLE: ReadonlyArray<ReadonlyArray<0 | 1>> = [
  //up lo ft ca fr hv ht op
  [1, 0, 0, 0, 0, 0, 0, 0], // T-shirt/top
  [0, 1, 0, 0, 0, 0, 0, 0], // Trouser
  [1, 0, 0, 0, 0, 1, 0, 0], // Pullover
  [1, 1, 0, 0, 0, 0, 0, 0], // Dress
  [1, 0, 0, 0, 1, 1, 0, 0], // Coat
  [0, 0, 1, 0, 0, 0, 0, 1], // Sandal
  [1, 0, 0, 0, 1, 0, 0, 0], // Shirt
  [0, 0, 1, 0, 0, 0, 0, 0], // Sneaker
  [0, 0, 0, 1, 0, 0, 0, 0], // Bag
  [0, 0, 1, 0, 0, 0, 1, 0], // Ankle boot
];

/** Concept vectors of the given labels: a Float32Array of labels.length * FASHION_CONCEPTS.length. */
export function conceptsForLabels(labels: ArrayLike<number>): Float32Array {
  const k = FASHION_CONCEPTS.length;
  const out = new Float32Array(labels.length * k);
  for (let i = 0; i < labels.length; i++) {
    const row = CONCEPT_TABLE[labels[i]!];
    if (!row) {
      throw new DataError({ op: 'conceptsForLabels' }, `labels[${i}]`, `a class index in 0..${FASHION_MNIST_CLASSES.length - 1}`, labels[i]);
    }
    out.set(row, i * k);
  }
  return out;
}
