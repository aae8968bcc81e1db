// Everything a web page can use (no Node module) ...
export * from './browser.js';
// ... and what reads files from disk.
export { readIdx } from './read-idx.js';
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
export { packageRoot, dataDir, findPackageRoot } from './paths.js';
