/**
 * verifyHost with the real compiler on real exports: a standard-ops graph verifies bit-exact in
 * every mode and build; one corrupted weight in the generated data file is caught at the node that
 * uses it; missing files, a missing compiler and bad inputs fail with typed errors.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@tinyblocks/core/base';
import { generateC, writeExport } from '@tinyblocks/export-c';
import { makeTempDir, requireCompiler, SKIP_C } from '@tinyblocks/testkit/c';
import { afterAll, describe, expect, it } from 'vitest';
import { benchHost } from './bench.js';
import { VerifyError } from './toolchain.js';
import { formatVerifyLine, verifyHost } from './verify.js';
import { blockGraph, randomFrames, standardGraph, streamFrames } from './test-graphs.js';

const tmp = makeTempDir('tb-verify-test-');
afterAll(() => tmp.remove());

const graph = standardGraph(1);
const dir = writeExport(join(tmp.dir, 'tiny'), generateC(graph));
const frames = randomFrames(6, 192, 11);

describe.skipIf(SKIP_C)('verifyHost (standard ops)', () => {
  it('is bit-exact in every mode and both builds', async () => {
    requireCompiler();
    const phases: string[] = [];
    const r = await verifyHost(dir, frames, { onProgress: (e) => phases.push(e.phase) });
    expect(formatVerifyLine(r)).toBe('verify host: 6/6 bit-exact'); // on failure: names the first mismatch
    expect(r.firstMismatch).toBeUndefined();
    expect(r).toMatchObject({ name: 'tiny', count: 6, exact: 6, builds: ['O2-strict', 'asan-ubsan'], modes: ['full', 'exits', 'stream'] });
    // no exits, no delta layers: every mode executes every MAC
    expect(r.macs.full).toBe(r.macs.dense);
    expect(r.macs.exits).toBe(r.macs.dense);
    expect(r.macs.stream).toBe(r.macs.dense);
    expect(r.exitsTaken).toBe(0);
    expect(phases).toEqual(expect.arrayContaining(['compile', 'reference', 'run', 'compare']));
    expect(r.seconds).toBeGreaterThan(0);
  });

  it('a corrupted weight in the data file is caught at the node that uses it', async () => {
    const bad = join(tmp.dir, 'corrupt');
    cpSync(dir, bad, { recursive: true });
    const file = join(bad, 'tiny_model_data.c');
    const text = readFileSync(file, 'utf8');
    // first value of the depthwise weights (node 2, 'conv_1', symbol tiny_conv_1_2_weights)
    const edited = text.replace(/(tiny_conv_1_2_weights\[72\] TB_ALIGN16 = \{\n {2})(-?\d+)/, (_m, head: string, v: string) => `${head}${Number(v) > 0 ? -127 : 127}`);
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
    const r = await verifyHost(bad, frames);
    expect(r.exact).toBeLessThan(r.count);
    expect(r.firstMismatch).toMatchObject({ frame: 0, mode: 'full', build: 'O2-strict', field: 'trace', nodeIndex: 2, node: 'conv_1', op: 'depthwise_conv2d' });
    const m = r.firstMismatch!;
    expect(m.c).not.toBe(m.ts);
    expect(formatVerifyLine(r)).toMatch(/^verify host: [0-5]\/6 bit-exact; first mismatch: frame 0, full, O2-strict, node 2 conv_1 \(depthwise_conv2d\) byte \d+: C -?\d+ vs TS -?\d+$/);
  });

  it('benchHost times <name>_run', async () => {
    const b = await benchHost(dir, frames, { iterations: 200 });
    expect(b.iterations).toBe(200);
    expect(b.inferencesPerSecond).toBeGreaterThan(0);
    expect(b.microsecondsPerInference).toBeCloseTo(1e6 / b.inferencesPerSecond, 6);
  });
});

describe.skipIf(SKIP_C)('verifyHost (block ops: early exit, concepts, delta streaming)', () => {
  it('is bit-exact in all four modes; exits and deltas really skip MACs', async () => {
    requireCompiler();
    const bdir = writeExport(join(tmp.dir, 'blocks'), generateC(blockGraph(0.67)));
    const frames12 = streamFrames(12, 192); // runs of repeated and slightly perturbed frames
    const r = await verifyHost(bdir, frames12);
    expect(formatVerifyLine(r)).toBe('verify host: 12/12 bit-exact');
    expect(r.modes).toEqual(['full', 'exits', 'intervene', 'stream']);
    // some frames exit early, some do not: both paths of the exit were compared
    expect(r.exitsTaken).toBeGreaterThan(0);
    expect(r.exitsTaken).toBeLessThan(12);
    expect(r.macs.exits).toBeLessThan(r.macs.full);
    // the delta layer sends only changes while streaming (C MACs = TS MACs, compared per frame)
    expect(r.macs.stream).toBeLessThan(r.macs.full);
    expect(r.macs.full).toBeLessThanOrEqual(r.macs.dense);
    expect(r.macs.intervene).toBe(r.macs.full);
  });

  it('a wrong concept code path is caught in the intervene mode', async () => {
    // swap the low/high codes of concept 0 in the C data only: 'intervene' forces concept 0 on
    const gen = generateC(blockGraph(0.67));
    const file = 'blocks_model_data.c';
    const text = gen.files[file]!;
    const edited = text.replace(/(blocks_cbm_high\[4\] TB_ALIGN16 = \{\n {2})(-?\d+)/, (_m, head: string, v: string) => `${head}${Number(v) === 0 ? 1 : 0}`);
    expect(edited).not.toBe(text);
    const bdir = writeExport(join(tmp.dir, 'blocks-bad'), { files: { ...gen.files, [file]: edited } });
    const r = await verifyHost(bdir, streamFrames(4, 192));
    expect(r.exact).toBe(0);
    expect(r.firstMismatch).toMatchObject({ frame: 0, mode: 'intervene', field: 'trace', node: 'cbm', op: 'concept_intervene', byte: 0 });
  });
});

describe('verifyHost errors', () => {
  it('a missing compiler says what to install', async () => {
    await expect(verifyHost(dir, frames, { cc: 'tb-no-such-cc' })).rejects.toThrow(VerifyError);
    await expect(verifyHost(dir, frames, { cc: 'tb-no-such-cc' })).rejects.toThrow(/apt-get install gcc/);
  });

  it.skipIf(SKIP_C)('C that does not compile, or that a sanitizer stops, is a VerifyError with the messages', async () => {
    const broken = join(tmp.dir, 'no-compile');
    cpSync(dir, broken, { recursive: true });
    const model = join(broken, 'tiny_model.c');
    const text = readFileSync(model, 'utf8');
    writeFileSync(model, text.replace('uint32_t macs = 0u;', 'uint32_t macs = 0u; int unused;'));
    await expect(verifyHost(broken, frames)).rejects.toThrow(/compile \(O2-strict\).*unused variable/s);
    // reading far past the arena (by an amount the compiler cannot see): AddressSanitizer aborts
    const overflow = text.replace(/memcpy\(output, \(arena \+ (\d+)\), 10u\);/, 'memcpy(output, (arena + $1) + (size_t)(uint8_t)input[0] * 4096u, 10u);');
    expect(overflow).not.toBe(text);
    writeFileSync(model, overflow);
    await expect(verifyHost(broken, frames)).rejects.toThrow(VerifyError);
    await expect(verifyHost(broken, frames)).rejects.toThrow(/run \((O2-strict|asan-ubsan)\)/);
  }, 60_000);

  it('missing or corrupt graph files are DataErrors naming the file', async () => {
    const copy = join(tmp.dir, 'broken');
    cpSync(dir, copy, { recursive: true });
    writeFileSync(join(copy, 'tiny.int8.json'), '{"format": "tinyblocks-int8-graph", "version": 1, ');
    await expect(verifyHost(copy, frames)).rejects.toThrow(DataError);
    await expect(verifyHost(copy, frames)).rejects.toThrow(/tiny\.int8\.json: JSON: expected valid JSON/);
    rmSync(join(copy, 'tiny.int8.json'));
    await expect(verifyHost(copy, frames)).rejects.toThrow(/tiny\.int8\.json: file: expected the file tiny\.int8\.json the export wrote, got "no such file"/);
    cpSync(join(dir, 'tiny.int8.json'), join(copy, 'tiny.int8.json'));
    rmSync(join(copy, 'tiny_model_data.c'));
    await expect(verifyHost(copy, frames)).rejects.toThrow(/tiny_model_data\.c: file/);
    await expect(verifyHost(join(tmp.dir, 'nowhere'), frames)).rejects.toThrow(DataError);
  });

  it('frames of the wrong size are DataErrors', async () => {
    await expect(verifyHost(dir, [new Int8Array(5)])).rejects.toThrow(/inputs\[0\]: expected an Int8Array of 192 codes, got "5 codes"/);
    await expect(verifyHost(dir, [])).rejects.toThrow(DataError);
  });
});
