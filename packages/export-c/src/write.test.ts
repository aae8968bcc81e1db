/**
 * writeExport: atomic (no folder left behind on failure), replaces a previous export, refuses to
 * replace anything else.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@tinyblocks/core/base';
import { makeTempDir } from '@tinyblocks/testkit/c';
import { afterAll, describe, expect, it } from 'vitest';
import { generateC } from './generate.js';
import { standardGraph } from './test-graph.js';
import { writeExport } from './write.js';

const tmp = makeTempDir('tb-write-export-');
afterAll(() => tmp.remove());
const gen = generateC(standardGraph(1));

describe('writeExport', () => {
  it('writes every file; a second export replaces the first', () => {
    const out = join(tmp.dir, 'a', 'model');
    expect(writeExport(out, gen)).toBe(out);
    expect(readdirSync(out).sort()).toEqual(Object.keys(gen.files).sort());
    for (const [k, v] of Object.entries(gen.files)) expect(readFileSync(join(out, k), 'utf8')).toBe(v);
    const other = generateC(standardGraph(2, 'other'));
    writeExport(out, other);
    expect(readdirSync(out).sort()).toEqual(Object.keys(other.files).sort()); // old files gone
    expect(readdirSync(join(tmp.dir, 'a'))).toEqual(['model']); // no temporary siblings left
  });

  it('an existing empty folder is fine', () => {
    const out = join(tmp.dir, 'empty');
    mkdirSync(out);
    writeExport(out, gen);
    expect(existsSync(join(out, 'report.json'))).toBe(true);
  });

  it("refuses to replace a user's folder (or a file) and leaves it untouched", () => {
    const out = join(tmp.dir, 'mine');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'keep me');
    expect(() => writeExport(out, gen)).toThrow(ConfigError);
    expect(() => writeExport(out, gen)).toThrow(/previous tinyblocks C export.*notes\.txt/);
    // a report.json that is not ours does not count either
    writeFileSync(join(out, 'report.json'), '{"format":"something-else"}');
    expect(() => writeExport(out, gen)).toThrow(ConfigError);
    expect(readdirSync(out).sort()).toEqual(['notes.txt', 'report.json']);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('keep me');
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'x');
    expect(() => writeExport(file, gen)).toThrow(/an existing file/);
  });

  it('leaves no folder behind when writing fails halfway', () => {
    const parent = join(tmp.dir, 'fail');
    mkdirSync(parent);
    const out = join(parent, 'model');
    // the last file cannot be written (not a string or bytes): everything before it was
    const broken = { files: { ...gen.files, 'zz.c': { not: 'text' } as unknown as string } };
    expect(() => writeExport(out, broken)).toThrow();
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
    // and a previous export stays as it was
    writeExport(out, gen);
    expect(() => writeExport(out, broken)).toThrow();
    expect(readdirSync(out).sort()).toEqual(Object.keys(gen.files).sort());
    expect(readdirSync(parent)).toEqual(['model']);
  });

  it('typed errors for a bad argument', () => {
    expect(() => writeExport('', gen)).toThrow(ConfigError);
    expect(() => writeExport(join(tmp.dir, 'x'), { files: { 'a.c': '' } })).toThrow(/report\.json/);
    expect(() => writeExport(join(tmp.dir, 'x'), { files: { ...gen.files, '../evil.c': '' } })).toThrow(/plain file names/);
    expect(existsSync(join(tmp.dir, 'x'))).toBe(false);
  });
});
