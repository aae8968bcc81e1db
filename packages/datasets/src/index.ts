export { parseIdx, decodeIdx, writeIdx, isGzip, IDX_IMAGES, IDX_LABELS, type IdxData, type IdxExpect } from './idx.js';
export { readIdx } from './read-idx.js';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_ROWS, FASHION_MNIST_COLS } from './classes.js';
export {
  loadFashionMnist,
  readFashionMnistDir,
  fullSetDir,
  subsetDir,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SYSTEM_DIR,
  FASHION_MNIST_DIR_ENV,
  type FashionMnist,
  type LoadOptions,
  type Split,
  type Source,
} from './fashion-mnist.js';
export { FASHION_CONCEPTS, CONCEPT_TABLE, conceptsForLabels } from './concepts.js';
export {
  movingFashionMnist,
  movingFashionMnistClips,
  type MovingOptions,
  type MovingFashionMnistOptions,
  type ClipOptions,
  type Clips,
} from './moving.js';
export { packageRoot, dataDir, findPackageRoot } from './paths.js';
