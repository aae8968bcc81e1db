import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError } from '@tinyblocks/core/base';
import { describe, expect, it } from 'vitest';
import * as browser from './browser.js';
import { FASHION_MNIST_FILES, readIdx, subsetDir } from './index.js';

const here = path.dirname(new URL(import.meta.url).pathname);

/** Every module src/browser.ts reaches through relative imports, and the packages they import. */
function moduleGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = [];
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.includes(file)) return;
    files.push(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)[^'"]*from\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('@tinyblocks/datasets/browser', () => {
  it('reaches no Node module (only @tinyblocks/core/base)', () => {
    const { files, packages } = moduleGraph(path.join(here, 'browser.ts'));
    expect(files.map((f) => path.basename(f)).sort()).toEqual(['browser.ts', 'classes.ts', 'concepts.ts', 'idx.ts', 'moving.ts']);
    expect([...packages]).toEqual(['@tinyblocks/core/base']);
  });

  it('decodeIdx (DecompressionStream) reads the shipped gzipped subset as readIdx (node:zlib) does', async () => {
    for (const name of Object.values(FASHION_MNIST_FILES.test)) {
      const file = path.join(subsetDir(), name);
      const bytes = new Uint8Array(fs.readFileSync(file));
      const sync = readIdx(bytes, file);
      const decoded = await browser.decodeIdx(bytes, file);
      expect(decoded.magic).toBe(sync.magic);
      expect(decoded.dims).toEqual(sync.dims);
      expect(Buffer.from(decoded.data).equals(Buffer.from(sync.data))).toBe(true);
    }
  });

  it('decodeIdx and parseIdx raise DataErrors naming the file', async () => {
    const raw = browser.writeIdx(browser.IDX_LABELS, [3], Uint8Array.of(1, 2, 3));
    expect((await browser.decodeIdx(raw, 'plain.idx')).data).toEqual(Uint8Array.of(1, 2, 3));
    const gz = gzipSync(raw);
    const cut = gz.subarray(0, gz.length - 6);
    await expect(browser.decodeIdx(cut, 'cut.gz')).rejects.toThrow(DataError);
    await expect(browser.decodeIdx(cut, 'cut.gz')).rejects.toThrow(/^cut\.gz: gzip: expected a complete gzip stream/);
    await expect(browser.decodeIdx(gz, 'labels.gz', { dims: [4] })).rejects.toThrow('labels.gz: dims: expected [4], got [3]');
    expect(() => browser.parseIdx(gz, 'x.gz')).toThrow('x.gz: bytes: expected inflated IDX bytes');
  });
});
