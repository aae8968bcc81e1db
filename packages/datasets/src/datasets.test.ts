import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConfigError, DataError, ShapeError } from '@tinyblocks/core/base';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CONCEPT_TABLE,
  FASHION_CONCEPTS,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR_ENV,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SYSTEM_DIR,
  IDX_IMAGES,
  IDX_LABELS,
  conceptsForLabels,
  loadFashionMnist,
  movingFashionMnist,
  movingFashionMnistClips,
  packageRoot,
  readFashionMnistDir,
  readIdx,
  subsetDir,
  writeIdx,
} from './index.js';

const histogram = (labels: Uint8Array) => {
  const h = new Array(10).fill(0);
  for (const l of labels) h[l]++;
  return h;
};
const tmpDirs: string[] = [];
const tmpDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyblocks-ds-'));
  tmpDirs.push(d);
  return d;
};
const savedEnv = process.env[FASHION_MNIST_DIR_ENV];
afterEach(() => {
  if (savedEnv === undefined) delete process.env[FASHION_MNIST_DIR_ENV];
  else process.env[FASHION_MNIST_DIR_ENV] = savedEnv;
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A tiny test split in a temporary directory; `edit` may break it. */
function writeSplit(dir: string, images: Uint8Array, imageDims: number[], labels: Uint8Array, labelDims = [labels.length]) {
  const f = FASHION_MNIST_FILES.test;
  fs.writeFileSync(path.join(dir, f.images), gzipSync(writeIdx(IDX_IMAGES, imageDims, images)));
  fs.writeFileSync(path.join(dir, f.labels), gzipSync(writeIdx(IDX_LABELS, labelDims, labels)));
}

describe('readIdx', () => {
  const img = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  const raw = writeIdx(IDX_IMAGES, [2, 3, 4], img);

  it('reads raw and gzipped files', () => {
    for (const bytes of [raw, new Uint8Array(gzipSync(raw))]) {
      const r = readIdx(bytes, 'x.idx');
      expect(r.magic).toBe(IDX_IMAGES);
      expect(r.dims).toEqual([2, 3, 4]);
      expect(Array.from(r.data)).toEqual(Array.from(img));
    }
    expect(readIdx(writeIdx(IDX_LABELS, [3], Uint8Array.of(1, 2, 3)), 'l').dims).toEqual([3]);
  });

  it('bad magic, truncation, trailing bytes, bad gzip and wrong dims are DataErrors naming file and field', () => {
    const bad = raw.slice();
    bad[3] = 0x02;
    expect(() => readIdx(bad, 'bad.idx')).toThrow(DataError);
    expect(() => readIdx(bad, 'bad.idx')).toThrow('bad.idx: magic: expected 0x00000803 (images) or 0x00000801 (labels), got "0x00000802"');
    expect(() => readIdx(raw.subarray(0, raw.length - 5), 'cut.idx')).toThrow(
      'cut.idx: length: expected 40 bytes (header + [2 x 3 x 4] uint8), got 35 (truncated file)',
    );
    expect(() => readIdx(Uint8Array.from([...raw, 0]), 'long.idx')).toThrow('long.idx: length: expected 40 bytes');
    expect(() => readIdx(raw.subarray(0, 6), 'tiny.idx')).toThrow('tiny.idx: header: expected at least 8 bytes, got 6');
    const gz = new Uint8Array(gzipSync(raw));
    expect(() => readIdx(gz.subarray(0, gz.length - 10), 'cut.gz')).toThrow(/^cut\.gz: gzip: expected a complete gzip stream, got .*truncated or corrupt file/);
    expect(() => readIdx(raw, 'x.idx', { dims: [null, 28, 28] })).toThrow('x.idx: dims: expected [any, 28, 28], got [2, 3, 4]');
    expect(() => readIdx(raw, 'x.idx', { magic: IDX_LABELS })).toThrow('x.idx: magic: expected 0x00000801, got "0x00000803"');
  });
});

describe('Fashion-MNIST files', () => {
  it('a split with wrong image dims, mismatched label count or bad labels is rejected naming the file', () => {
    const dir = tmpDir();
    const f = FASHION_MNIST_FILES.test;
    writeSplit(dir, new Uint8Array(2 * 27 * 28), [2, 27, 28], Uint8Array.of(0, 1));
    expect(() => readFashionMnistDir(dir, 'test')).toThrow(`${path.join(dir, f.images)}: dims: expected [any, 28, 28], got [2, 27, 28]`);
    writeSplit(dir, new Uint8Array(2 * 784), [2, 28, 28], Uint8Array.of(0, 1, 2));
    expect(() => readFashionMnistDir(dir, 'test')).toThrow(`${path.join(dir, f.labels)}: dims: expected [2], got [3]`);
    writeSplit(dir, new Uint8Array(2 * 784), [2, 28, 28], Uint8Array.of(0, 10));
    expect(() => readFashionMnistDir(dir, 'test')).toThrow(`${path.join(dir, f.labels)}: labels[1]: expected a class index in 0..9, got 10`);
    fs.rmSync(path.join(dir, f.labels));
    expect(() => readFashionMnistDir(dir, 'test')).toThrow(DataError);
  });

  it("source 'full' without the full set names apt-get install dataset-fashion-mnist and the offline subset", () => {
    process.env[FASHION_MNIST_DIR_ENV] = tmpDir();
    let err: unknown;
    try {
      loadFashionMnist({ split: 'train', source: 'full' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    const msg = (err as Error).message;
    expect(msg).toContain(`${process.env[FASHION_MNIST_DIR_ENV]}: source: expected the full Fashion-MNIST train files`);
    expect(msg).toContain('apt-get install dataset-fashion-mnist');
    expect(msg).toContain("source: 'subset'");
    // 'auto' falls back to the shipped subset
    expect(loadFashionMnist({ split: 'test', limit: 5 }).source).toBe('subset');
  });

  it('a corrupt full set is an error, not a silent fallback', () => {
    const dir = tmpDir();
    writeSplit(dir, new Uint8Array(784), [2, 28, 28], Uint8Array.of(0, 1));
    process.env[FASHION_MNIST_DIR_ENV] = dir;
    expect(() => loadFashionMnist({ split: 'test' })).toThrow('t10k-images-idx3-ubyte.gz: length: expected 1584 bytes (header + [2 x 28 x 28] uint8), got 800 (truncated file)');
  });

  it('bad options are ConfigErrors', () => {
    expect(() => loadFashionMnist({ split: 'val' as 'test' })).toThrow(ConfigError);
    expect(() => loadFashionMnist({ split: 'val' as 'test' })).toThrow(`loadFashionMnist: split: expected one of 'train', 'test', got "val"`);
    expect(() => loadFashionMnist({ split: 'test', limit: 0 })).toThrow('loadFashionMnist: limit: expected an integer > 0, got 0');
  });

  it('the shipped subset: 3000 train / 2000 test, balanced, <= 3 MB', () => {
    const train = loadFashionMnist({ split: 'train', source: 'subset' });
    const test = loadFashionMnist({ split: 'test', source: 'subset' });
    expect([train.count, test.count]).toEqual([3000, 2000]);
    expect(train.images.length).toBe(3000 * 784);
    expect([train.rows, train.cols, train.source]).toEqual([28, 28, 'subset']);
    expect(histogram(train.labels)).toEqual(new Array(10).fill(300));
    expect(histogram(test.labels)).toEqual(new Array(10).fill(200));
    expect(train.dir).toBe(subsetDir());
    const bytes = fs.readdirSync(train.dir).reduce((n, f) => n + fs.statSync(path.join(train.dir, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(3e6);
    expect(fs.existsSync(path.join(packageRoot(), 'data', 'fashion-mnist-subset', 'LICENSE'))).toBe(true);
    const some = loadFashionMnist({ split: 'train', source: 'subset', limit: 7 });
    expect([some.count, some.images.length]).toEqual([7, 7 * 784]);
    expect(Array.from(some.labels)).toEqual(Array.from(train.labels.subarray(0, 7)));
  });

  const hasFull = fs.existsSync(path.join(FASHION_MNIST_SYSTEM_DIR, FASHION_MNIST_FILES.train.images));
  if (!hasFull) console.warn(`SKIPPED full Fashion-MNIST tests: ${FASHION_MNIST_SYSTEM_DIR} absent (apt-get install dataset-fashion-mnist)`);
  it.skipIf(!hasFull)(`the full set in ${FASHION_MNIST_SYSTEM_DIR}: 60000 / 10000, balanced (skipped when absent)`, () => {
    delete process.env[FASHION_MNIST_DIR_ENV];
    const train = loadFashionMnist({ split: 'train', source: 'full' });
    const test = loadFashionMnist({ split: 'test' });
    expect([train.count, test.count, train.source, test.source]).toEqual([60000, 10000, 'full', 'full']);
    expect(train.dir).toBe(FASHION_MNIST_SYSTEM_DIR);
    expect(histogram(train.labels)).toEqual(new Array(10).fill(6000));
    expect(histogram(test.labels)).toEqual(new Array(10).fill(1000));
    // the subset is the first 200 test images of each class
    const sub = loadFashionMnist({ split: 'test', source: 'subset' });
    const firstCoat = test.labels.indexOf(4);
    expect(Array.from(sub.images.subarray(sub.labels.indexOf(4) * 784, sub.labels.indexOf(4) * 784 + 784))).toEqual(
      Array.from(test.images.subarray(firstCoat * 784, firstCoat * 784 + 784)),
    );
  });
});

describe('class-level concepts', () => {
  it('a 10 x k 0/1 table whose rows are all different', () => {
    const k = FASHION_CONCEPTS.length;
    expect(FASHION_MNIST_CLASSES).toHaveLength(10);
    expect(k).toBeGreaterThanOrEqual(6);
    expect(CONCEPT_TABLE).toHaveLength(10);
    for (const row of CONCEPT_TABLE) {
      expect(row).toHaveLength(k);
      expect(row.every((v) => v === 0 || v === 1)).toBe(true);
    }
    expect(new Set(CONCEPT_TABLE.map((r) => r.join(''))).size).toBe(10);
    // every concept is informative: used by some classes but not by all
    for (let j = 0; j < k; j++) {
      const n = CONCEPT_TABLE.reduce((a, r) => a + r[j]!, 0);
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(10);
    }
  });

  it('conceptsForLabels looks rows up and rejects bad labels', () => {
    const c = conceptsForLabels(Uint8Array.of(9, 0));
    const k = FASHION_CONCEPTS.length;
    expect(Array.from(c)).toEqual([...CONCEPT_TABLE[9]!, ...CONCEPT_TABLE[0]!]);
    expect(c.length).toBe(2 * k);
    expect(() => conceptsForLabels([3, 12])).toThrow('conceptsForLabels: labels[1]: expected a class index in 0..9, got 12');
  });

  it('the README documents exactly this table', () => {
    const readme = fs.readFileSync(path.join(packageRoot(), 'README.md'), 'utf8');
    const header = `| class | ${FASHION_CONCEPTS.join(' | ')} |`;
    expect(readme).toContain(header);
    CONCEPT_TABLE.forEach((row, i) => {
      expect(readme).toContain(`| ${FASHION_MNIST_CLASSES[i]} | ${row.join(' | ')} |`);
    });
  });
});

describe('moving Fashion-MNIST', () => {
  const data = loadFashionMnist({ split: 'test', source: 'subset', limit: 200 });
  const image = (i: number) => data.images.subarray(i * 784, (i + 1) * 784);
  const mad = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
  const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);

  it('is deterministic for a seed and differs across seeds', () => {
    const a = movingFashionMnist({ image: image(3), frames: 30, seed: 7, brightness: 0.05 });
    const b = movingFashionMnist({ image: image(3), frames: 30, seed: 7, brightness: 0.05 });
    const c = movingFashionMnist({ image: image(3), frames: 30, seed: 8, brightness: 0.05 });
    expect(a.length).toBe(30 * 784);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('consecutive frames are much more alike than unrelated images', () => {
    let consecutive = 0;
    let unrelated = 0;
    for (let k = 0; k < 20; k++) {
      const f = movingFashionMnist({ image: image(k), frames: 10, seed: k });
      for (let t = 1; t < 10; t++) consecutive += mad(f.subarray((t - 1) * 784, t * 784), f.subarray(t * 784, (t + 1) * 784)) / 9;
      unrelated += mad(image(k), image(k + 100));
    }
    expect(consecutive).toBeLessThan(0.3 * unrelated);
  });

  it('the item stays inside the canvas (no pixel lost) and drifts on a larger canvas', () => {
    for (const size of [28, 40]) {
      for (let k = 0; k < 10; k++) {
        const f = movingFashionMnist({ image: image(k), frames: 60, seed: k, drift: 1.5, jitter: 1, size });
        const px = size * size;
        for (let t = 0; t < 60; t++) expect(sum(f.subarray(t * px, (t + 1) * px))).toBe(sum(image(k)));
        if (size === 40) expect(mad(f.subarray(0, px), f.subarray(30 * px, 31 * px))).toBeGreaterThan(0);
      }
    }
  });

  it('clips: shapes, per-frame labels, distinct images, typed errors', () => {
    const clips = movingFashionMnistClips({ images: data.images, labels: data.labels, clips: 12, frames: 5, seed: 1 });
    expect(clips.frames.length).toBe(12 * 5 * 784);
    expect(clips.labels.length).toBe(60);
    expect(new Set(clips.indices).size).toBe(12);
    for (let i = 0; i < 12; i++) {
      expect(Array.from(clips.labels.subarray(i * 5, i * 5 + 5))).toEqual(new Array(5).fill(data.labels[clips.indices[i]!]));
      expect(sum(clips.frames.subarray(i * 5 * 784, i * 5 * 784 + 784))).toBe(sum(image(clips.indices[i]!)));
    }
    const again = movingFashionMnistClips({ images: data.images, labels: data.labels, clips: 12, frames: 5, seed: 1 });
    expect(Array.from(again.frames)).toEqual(Array.from(clips.frames));
    expect(() => movingFashionMnist({ image: new Uint8Array(10), frames: 2, seed: 1 })).toThrow(ShapeError);
    expect(() => movingFashionMnist({ image: image(0), frames: 2, seed: 1, jitter: 2 })).toThrow(
      'movingFashionMnist: jitter: expected a probability in [0, 1], got 2',
    );
    expect(() => movingFashionMnist({ image: image(0), frames: 0, seed: 1 })).toThrow('movingFashionMnist: frames: expected an integer > 0, got 0');
    expect(() => movingFashionMnistClips({ images: data.images, labels: data.labels.subarray(1), clips: 1, frames: 1, seed: 1 })).toThrow(
      'movingFashionMnistClips: images: expected labels.length * 784 pixels',
    );
  });
});

describe('findPackageRoot', () => {
  it('finds the package that ships files, and names the start directory when there is none', async () => {
    const { findPackageRoot, packageRoot } = await import('./paths.js');
    expect(findPackageRoot('@tinyblocks/datasets', import.meta.url)).toBe(packageRoot());
    expect(() => findPackageRoot('@nobody/nothing', import.meta.url)).toThrow(
      /: package root: expected a parent directory with the package\.json of @nobody\/nothing, got "none found"/,
    );
  });
});
