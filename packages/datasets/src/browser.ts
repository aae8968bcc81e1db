/**
 * @tinyblocks/datasets/browser: the parts that need no Node module, for web pages and bundlers.
 * Class names and image size, the concept table, moving Fashion-MNIST, and IDX parsing with
 * DecompressionStream (`decodeIdx`). Loading files from disk (`loadFashionMnist`, `readIdx`)
 * stays in the main entry.
 */
export { parseIdx, decodeIdx, writeIdx, isGzip, IDX_IMAGES, IDX_LABELS, type IdxData, type IdxExpect } from './idx.js';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_ROWS, FASHION_MNIST_COLS } from './classes.js';
export { FASHION_CONCEPTS, CONCEPT_TABLE, conceptsForLabels } from './concepts.js';
export {
  movingFashionMnist,
  movingFashionMnistClips,
  type MovingOptions,
  type MovingFashionMnistOptions,
  type ClipOptions,
  type Clips,
} from './moving.js';
