/** Fashion-MNIST: the full Debian data set when installed, else the subset shipped in data/. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, requireOneOf, requirePositiveInt } from '@tinyblocks/core/base';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_COLS, FASHION_MNIST_ROWS } from './classes.js';
import { IDX_IMAGES, IDX_LABELS } from './idx.js';
import { readIdx } from './read-idx.js';
import { dataDir } from './paths.js';

/** The Debian package `dataset-fashion-mnist` installs the full set here. */
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_DIR_ENV = 'TINYBLOCKS_FASHION_MNIST_DIR';

export type Split = 'train' | 'test';
export type Source = 'auto' | 'full' | 'subset';

export const FASHION_MNIST_FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
};

export interface LoadOptions {
  split: Split;
  /** 'auto' (default): the full set when installed, else the shipped subset. */
  source?: Source;
  /** Keep only the first `limit` items (the files are in shuffled order). */
  limit?: number;
}

export interface FashionMnist {
  /** count * 28 * 28 uint8 pixels, row-major, 0 = background. */
  images: Uint8Array;
  /** count labels in 0..9 (see FASHION_MNIST_CLASSES). */
  labels: Uint8Array;
  count: number;
  rows: 28;
  cols: 28;
  source: 'full' | 'subset';
  dir: string;
}

/** Directory of the full set: $TINYBLOCKS_FASHION_MNIST_DIR or the Debian location. */
export function fullSetDir(): string {
  return process.env[FASHION_MNIST_DIR_ENV] || FASHION_MNIST_SYSTEM_DIR;
}

/** Directory of the subset shipped with this package. */
export function subsetDir(): string {
  return path.join(dataDir(), 'fashion-mnist-subset');
}

/** The file in `dir`, gzipped or not (`name.gz` or `name`); null when neither exists. */
function findFile(dir: string, gzName: string): string | null {
  for (const name of [gzName, gzName.replace(/\.gz$/, '')]) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

function hasSplit(dir: string, split: Split): boolean {
  const f = FASHION_MNIST_FILES[split];
  return findFile(dir, f.images) !== null && findFile(dir, f.labels) !== null;
}

function readFile(dir: string, gzName: string): { file: string; bytes: Uint8Array } {
  const file = findFile(dir, gzName);
  if (!file) throw new DataError({ file: path.join(dir, gzName) }, 'file', 'an IDX file (gzipped or not)', 'no such file');
  return { file, bytes: new Uint8Array(fs.readFileSync(file)) };
}

/** Reads one split from `dir` and checks it: 28x28 images, as many labels as images, labels 0..9. */
export function readFashionMnistDir(dir: string, split: Split): { images: Uint8Array; labels: Uint8Array; count: number } {
  const names = FASHION_MNIST_FILES[split];
  const img = readFile(dir, names.images);
  const images = readIdx(img.bytes, img.file, { magic: IDX_IMAGES, dims: [null, FASHION_MNIST_ROWS, FASHION_MNIST_COLS] });
  const count = images.dims[0]!;
  const lab = readFile(dir, names.labels);
  const labels = readIdx(lab.bytes, lab.file, { magic: IDX_LABELS, dims: [count] });
  const bad = labels.data.findIndex((l) => l >= FASHION_MNIST_CLASSES.length);
  if (bad >= 0) throw new DataError({ file: lab.file }, `labels[${bad}]`, 'a class index in 0..9', labels.data[bad]);
  return { images: images.data, labels: labels.data, count };
}

/** Loads a Fashion-MNIST split. See LoadOptions; throws DataError on missing or corrupt files. */
export function loadFashionMnist(options: LoadOptions): FashionMnist {
  const where = { op: 'loadFashionMnist' };
  const split = requireOneOf(where, 'split', options?.split, ['train', 'test'] as const);
  const source = requireOneOf(where, 'source', options.source ?? 'auto', ['auto', 'full', 'subset'] as const);
  const limit = options.limit === undefined ? undefined : requirePositiveInt(where, 'limit', options.limit);
  const full = fullSetDir();
  let use: 'full' | 'subset';
  if (source === 'subset') use = 'subset';
  else if (hasSplit(full, split)) use = 'full';
  else if (source === 'auto') use = 'subset';
  else {
    const f = FASHION_MNIST_FILES[split];
    throw new DataError(
      { file: full },
      'source',
      `the full Fashion-MNIST ${split} files (${f.images}, ${f.labels})`,
      'no such files',
      `install them with \`apt-get install dataset-fashion-mnist\` or point ${FASHION_MNIST_DIR_ENV} at a directory ` +
        "holding them; source: 'subset' uses the subset shipped with @tinyblocks/datasets and works offline",
    );
  }
  const dir = use === 'full' ? full : subsetDir();
  const data = readFashionMnistDir(dir, split);
  const count = limit === undefined ? data.count : Math.min(limit, data.count);
  const px = FASHION_MNIST_ROWS * FASHION_MNIST_COLS;
  return {
    images: count === data.count ? data.images : data.images.slice(0, count * px),
    labels: count === data.count ? data.labels : data.labels.slice(0, count),
    count,
    rows: FASHION_MNIST_ROWS,
    cols: FASHION_MNIST_COLS,
    source: use,
    dir,
  };
}
