#!/usr/bin/env node
/**
 * Writes the Fashion-MNIST subset shipped in data/fashion-mnist-subset/ from the full set
 * (Debian package dataset-fashion-mnist, or $TINYBLOCKS_FASHION_MNIST_DIR).
 *
 * Fixed rule, no randomness: the FIRST 300 training images and the FIRST 200 test images of each
 * class, in file order (the original files are already shuffled), kept in their original order.
 * Output: the same four gzipped IDX file names as the full set. Re-running gives identical bytes.
 *
 *   node scripts/make-subset.mjs [fullDir] [outDir]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const fullDir = process.argv[2] ?? process.env.TINYBLOCKS_FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const outDir = process.argv[3] ?? path.join(here, '..', 'data', 'fashion-mnist-subset');
const PER_CLASS = { train: 300, test: 200 };
const FILES = {
  train: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'],
  test: ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
};

function readIdx(file, magic) {
  const raw = gunzipSync(fs.readFileSync(file));
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (view.getUint32(0) !== magic) throw new Error(`${file}: magic: expected 0x${magic.toString(16)}`);
  const rank = magic & 0xff;
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  return { dims, data: raw.subarray(4 + 4 * rank) };
}

function idxGz(magic, dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return gzipSync(Buffer.concat([header, data]), { level: 9 });
}

fs.mkdirSync(outDir, { recursive: true });
let total = 0;
for (const split of ['train', 'test']) {
  const [imgName, labName] = FILES[split];
  const images = readIdx(path.join(fullDir, imgName), 0x803);
  const labels = readIdx(path.join(fullDir, labName), 0x801);
  const px = images.dims[1] * images.dims[2];
  const taken = new Array(10).fill(0);
  const keep = [];
  for (let i = 0; i < labels.dims[0]; i++) {
    const c = labels.data[i];
    if (taken[c] < PER_CLASS[split]) {
      taken[c]++;
      keep.push(i);
    }
  }
  if (taken.some((t) => t !== PER_CLASS[split])) throw new Error(`${split}: not enough images per class: ${taken}`);
  const outImages = Buffer.alloc(keep.length * px);
  const outLabels = Buffer.alloc(keep.length);
  keep.forEach((src, j) => {
    outImages.set(images.data.subarray(src * px, (src + 1) * px), j * px);
    outLabels[j] = labels.data[src];
  });
  const files = [
    [imgName, idxGz(0x803, [keep.length, images.dims[1], images.dims[2]], outImages)],
    [labName, idxGz(0x801, [keep.length], outLabels)],
  ];
  for (const [name, bytes] of files) {
    fs.writeFileSync(path.join(outDir, name), bytes);
    total += bytes.length;
    console.log(`${split}: ${name}: ${keep.length} items, ${bytes.length} bytes`);
  }
}
console.log(`total ${total} bytes (${(total / 1e6).toFixed(2)} MB) in ${outDir}`);
