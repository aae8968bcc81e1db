/**
 * writeExport: nothing half-written (a failure leaves the previous export whole), a previous
 * export updated in place (files the user added kept, files the user changed refused unless
 * force), anything else refused untouched; the folder's mode and a symlink to it kept.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@tinyblocks/core/base';
import { OUTPUT_MANIFEST } from '@tinyblocks/core/node';
import { makeTempDir } from '@tinyblocks/testkit/c';
import { afterAll, describe, expect, it } from 'vitest';
import { generateC } from './generate.js';
import { standardGraph } from './test-graph.js';
import { writeExport } from './write.js';

const tmp = makeTempDir('tb-write-export-');
afterAll(() => tmp.remove());
const gen = generateC(standardGraph(1));
const ours = (files: Record<string, string>) => [...Object.keys(files), OUTPUT_MANIFEST].sort();

describe('writeExport', () => {
  it('writes every file and its manifest; a second export replaces the first', () => {
    const out = join(tmp.dir, 'a', 'model');
    expect(writeExport(out, gen)).toBe(out);
    expect(readdirSync(out).sort()).toEqual(ours(gen.files));
    for (const [k, v] of Object.entries(gen.files)) expect(readFileSync(join(out, k), 'utf8')).toBe(v);
    const other = generateC(standardGraph(2, 'other'));
    writeExport(out, other);
    expect(readdirSync(out).sort()).toEqual(ours(other.files)); // the first export's own files gone
    expect(readdirSync(join(tmp.dir, 'a'))).toEqual(['model']); // nothing staged left behind
  });

  it('keeps files the user added, refuses files the user changed unless force', () => {
    const out = join(tmp.dir, 'port');
    writeExport(out, gen);
    writeFileSync(join(out, 'board_port.c'), '/* mine */');
    writeExport(out, gen);
    expect(readFileSync(join(out, 'board_port.c'), 'utf8')).toBe('/* mine */');
    writeFileSync(join(out, 'Makefile'), 'CFLAGS += -DMY_BOARD\n');
    expect(() => writeExport(out, gen)).toThrow(/changed since tinyblocks wrote them: Makefile.*--force/);
    expect(readFileSync(join(out, 'Makefile'), 'utf8')).toBe('CFLAGS += -DMY_BOARD\n');
    writeExport(out, gen, { force: true });
    expect(readFileSync(join(out, 'Makefile'), 'utf8')).toBe(gen.files['Makefile']);
    expect(readFileSync(join(out, 'board_port.c'), 'utf8')).toBe('/* mine */'); // force never touches the user's own files
  });

  it('keeps the folder mode and writes through a symlinked folder', () => {
    const real = join(tmp.dir, 'real');
    mkdirSync(real);
    chmodSync(real, 0o755);
    const link = join(tmp.dir, 'link');
    symlinkSync(real, link);
    writeExport(link, gen);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(statSync(real).mode & 0o777).toBe(0o755);
    expect(readdirSync(real).sort()).toEqual(ours(gen.files));
    writeExport(link, gen);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it("refuses a user's folder (or a file, or a model folder) and leaves it untouched", () => {
    const out = join(tmp.dir, 'mine');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'keep me');
    expect(() => writeExport(out, gen)).toThrow(ConfigError);
    expect(() => writeExport(out, gen)).toThrow(/tinyblocks did not write \(notes\.txt\)/);
    // a report.json, even a real one, does not make it ours: only the manifest does
    writeFileSync(join(out, 'report.json'), gen.files['report.json']!);
    expect(() => writeExport(out, gen)).toThrow(ConfigError);
    expect(readdirSync(out).sort()).toEqual(['notes.txt', 'report.json']);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('keep me');
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'x');
    expect(() => writeExport(file, gen)).toThrow(/an existing file/);
    const model = join(tmp.dir, 'model-out');
    mkdirSync(model);
    writeFileSync(join(model, OUTPUT_MANIFEST), JSON.stringify({ format: 'tinyblocks-output/1', kind: 'model', files: {} }));
    expect(() => writeExport(model, gen)).toThrow(/holding a tinyblocks model output/);
  });

  it('an existing empty folder is fine', () => {
    const out = join(tmp.dir, 'empty');
    mkdirSync(out);
    writeExport(out, gen);
    expect(existsSync(join(out, 'report.json'))).toBe(true);
  });

  it('leaves no folder behind when writing fails halfway, and a previous export whole', () => {
    const parent = join(tmp.dir, 'fail');
    mkdirSync(parent);
    const out = join(parent, 'model');
    // the last file cannot be written (not a string or bytes): everything before it was
    const broken = { files: { ...gen.files, 'zz.c': { not: 'text' } as unknown as string } };
    expect(() => writeExport(out, broken)).toThrow();
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
    writeExport(out, gen);
    expect(() => writeExport(out, broken)).toThrow();
    expect(readdirSync(out).sort()).toEqual(ours(gen.files));
    for (const [k, v] of Object.entries(gen.files)) expect(readFileSync(join(out, k), 'utf8')).toBe(v);
    expect(readdirSync(parent)).toEqual(['model']);
  });

  it('typed errors for a bad argument', () => {
    expect(() => writeExport('', gen)).toThrow(ConfigError);
    expect(() => writeExport(join(tmp.dir, 'x'), { files: { 'a.c': '' } })).toThrow(/report\.json/);
    expect(() => writeExport(join(tmp.dir, 'x'), { files: { ...gen.files, '../evil.c': '' } })).toThrow(/plain file names/);
    expect(() => writeExport(join(tmp.dir, 'x'.repeat(300)), gen)).toThrow(/at most 255 bytes/);
    expect(existsSync(join(tmp.dir, 'x'))).toBe(false);
  });
});
