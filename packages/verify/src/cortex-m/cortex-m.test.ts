/**
 * verifyCortexM with the real arm-none-eabi toolchain and QEMU (no mocks): a standard-ops graph
 * and the block-ops graph (early exit, concepts, delta streaming) verify bit-exact on every
 * Cortex-M target, the latter in all four modes (full, exits, intervene, stream) and on the
 * 16 KB Cortex-M0 too; executed-instruction counts repeat exactly; a corrupted weight, a wrong
 * concept code (intervene mode), a stream that loses its delta state (stream mode), a link
 * overflow, a guest fault, a timeout and a missing toolchain are typed errors or mismatches named
 * by frame, mode and node; the shipped model's export verifies on Cortex-M4 with test images.
 * Locally a missing toolchain skips with the packages to install; under CI=true it fails.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateC, writeExport } from '@tinyblocks/export-c';
import { runGraph, type Int8Graph } from '@tinyblocks/int8';
import { makeTempDir } from '@tinyblocks/testkit/c';
import { afterAll, describe, expect, it } from 'vitest';
import { readModelDir } from '../model-dir.js';
import { VerifyError } from '../toolchain.js';
import { blockGraph, randomFrames, standardGraph, streamFrames } from '../test-graphs.js';
import { CORTEX_M_TARGETS } from './targets.js';
import { CORTEX_M_INSTALL, missingCortexMTools, requireArmTools, defaultArmTools } from './tools.js';
import { formatCortexMLine, verifyCortexM } from './verify-cortex-m.js';

const CI = process.env['CI'] === 'true';
const MISSING = missingCortexMTools();
const SKIP = MISSING.length > 0 && !CI;
if (SKIP) console.warn(`[verify] Cortex-M toolchain missing (${MISSING.join(', ')}): skipping Cortex-M tests (${CORTEX_M_INSTALL})`);

const tmp = makeTempDir('tb-cortex-m-test-');
afterAll(() => tmp.remove());
const dir = writeExport(join(tmp.dir, 'tiny'), generateC(standardGraph(1)));
const frames = randomFrames(4, 192, 11);

/** A copy of export `from` named `name`, with `file` edited (the edit must change it). */
function editedCopy(from: string, name: string, file: string, edit: (text: string) => string): string {
  const to = join(tmp.dir, name);
  cpSync(from, to, { recursive: true });
  const text = readFileSync(join(to, file), 'utf8');
  const edited = edit(text);
  expect(edited).not.toBe(text);
  writeFileSync(join(to, file), edited);
  return to;
}

describe.skipIf(SKIP)('verifyCortexM (standard ops)', () => {
  it('cortex-m4: bit-exact, instruction counts identical on two runs', async () => {
    requireArmTools('test', defaultArmTools());
    const [a, b] = [await verifyCortexM(dir, frames, { target: 'cortex-m4' }), await verifyCortexM(dir, frames, { target: 'cortex-m4', sizeAtOs: false })];
    expect(a.firstMismatch).toBeUndefined();
    expect(formatCortexMLine(a)).toMatch(/^verify cortex-m4: 4\/4 bit-exact, [\d,]+ instructions\/inference$/);
    // no concepts: intervene is skipped, as on the host
    expect(a).toMatchObject({ name: 'tiny', target: 'cortex-m4', machine: 'mps2-an386', count: 4, exact: 4, modes: ['full', 'exits', 'stream'] });
    expect(b.instructions.perFrame).toEqual(a.instructions.perFrame);
    expect(b.instructions.perLayer).toEqual(a.instructions.perLayer);
    expect(b.instructions.exits).toBe(a.instructions.exits);
    expect(b.instructions.stream).toBe(a.instructions.stream);
    expect(a.instructions.intervene).toBeUndefined();
    // no exits, no delta layer: every mode runs every layer (the same call, give or take the harness's few instructions around it)
    expect(a.instructions.exits).toBe(a.instructions.full);
    expect(Math.abs(a.instructions.stream - a.instructions.full)).toBeLessThan(20);
    expect(a.instructions.full).toBeGreaterThan(10_000);
    // the per-layer spans add up to (almost all of) the inference: only the return path is outside
    const layers = a.instructions.perLayer.reduce((s, l) => s + l.instructions, 0);
    expect(layers).toBeLessThanOrEqual(a.instructions.full);
    expect(layers).toBeGreaterThan(a.instructions.full * 0.95);
    expect(a.instructions.perLayer.map((l) => l.op)).toContain('conv2d');
    // sizes
    const m = readModelDir(dir);
    expect(a.flash.modelCodeBytes).toBeGreaterThan(500);
    expect(a.flash.modelCodeBytesOs).toBeGreaterThan(0);
    expect(a.flash.modelCodeBytesOs!).toBeLessThan(a.flash.modelCodeBytes);
    expect(a.flash.weightSymbolBytes).toBeGreaterThan(0);
    expect(a.flash.weightSymbolBytes).toBeLessThanOrEqual(a.flash.modelDataBytes);
    expect(a.flash.framesBytes).toBeGreaterThanOrEqual(4 * m.inputSize);
    expect(a.ram.arenaBytes).toBeGreaterThan(0);
    expect(a.ram.modelStaticBytes).toBeGreaterThanOrEqual(a.ram.arenaBytes!);
    expect(a.ram.staticBytes).toBeGreaterThanOrEqual(a.ram.modelStaticBytes);
    expect(a.ram.stackBytes).toBeGreaterThan(a.ram.inferenceStackBytes);
    expect(a.ram.inferenceStackBytes).toBeGreaterThan(0);
  }, 60_000);

  it.each(CORTEX_M_TARGETS.filter((t) => t !== 'cortex-m4'))('%s: bit-exact', async (target) => {
    requireArmTools('test', defaultArmTools());
    const r = await verifyCortexM(dir, frames, { target, sizeAtOs: false });
    expect(formatCortexMLine(r)).toMatch(new RegExp(`^verify ${target}: 4/4 bit-exact, [\\d,]+ instructions/inference$`));
  }, 60_000);

  it('a corrupted weight is caught at the node that uses it', async () => {
    const bad = editedCopy(dir, 'corrupt', 'tiny_model_data.c', (text) =>
      text.replace(/(tiny_conv_1_2_weights\[72\] TB_ALIGN16 = \{\n {2})(-?\d+)/, (_m, head: string, v: string) => `${head}${Number(v) > 0 ? -127 : 127}`),
    );
    const r = await verifyCortexM(bad, frames, { target: 'cortex-m0', sizeAtOs: false });
    expect(r.exact).toBeLessThan(r.count);
    expect(r.firstMismatch).toMatchObject({ frame: 0, mode: 'full', field: 'trace', nodeIndex: 2, node: 'conv_1', op: 'depthwise_conv2d' });
    expect(formatCortexMLine(r)).toMatch(/^verify cortex-m0: [0-3]\/4 bit-exact, [\d,]+ instructions\/inference; first mismatch: frame 0, full, node 2 conv_1 \(depthwise_conv2d\) byte \d+: C -?\d+ vs TS -?\d+$/);
  }, 60_000);

  it('flash overflow at link time is a VerifyError with the byte counts', async () => {
    const e = await verifyCortexM(dir, frames, { target: 'cortex-m4', flashBytes: 2048, sizeAtOs: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VerifyError);
    expect(String((e as Error).message)).toMatch(/region 'FLASH' overflowed by \d+ bytes/);
  }, 60_000);

  it('a guest fault is a non-zero exit; a hung run is a timeout', async () => {
    const bad = editedCopy(dir, 'trap', 'tiny_model.c', (text) => text.replace('TB_TRACE(0, ', '__builtin_trap();\n  TB_TRACE(0, '));
    const e = await verifyCortexM(bad, frames, { target: 'cortex-m3', sizeAtOs: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VerifyError);
    expect(String((e as Error).message)).toMatch(/status 127 \(fault handler/);
    const t = await verifyCortexM(dir, frames, { target: 'cortex-m4', timeoutSeconds: 0.01, sizeAtOs: false }).catch((x: unknown) => x);
    expect(t).toBeInstanceOf(VerifyError);
    expect(String((t as Error).message)).toMatch(/finish within 0.01 s/);
  }, 60_000);

  it('a missing toolchain names the packages to install; bad options are DataErrors', async () => {
    const e = await verifyCortexM(dir, frames, { target: 'cortex-m4', tools: { gcc: 'arm-none-eabi-gcc-not-installed' } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VerifyError);
    expect(String((e as Error).message)).toContain('apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm');
    await expect(verifyCortexM(dir, frames, { target: 'cortex-a53' as 'cortex-m4' })).rejects.toThrow(/cortex-m0 \| cortex-m3/);
    await expect(verifyCortexM(dir, [new Int8Array(3)], { target: 'cortex-m4' })).rejects.toThrow(/192 codes/);
  });
});

// every block op: evonorm, mix_pool + exit_decision, polynorm, delta_dense, concept_intervene
const bdir = writeExport(join(tmp.dir, 'blocks'), generateC(blockGraph(0.67)));
const bframes = streamFrames(12, 192); // runs of repeated and slightly perturbed frames

describe.skipIf(SKIP)('verifyCortexM (block ops: early exit, concepts, delta streaming)', () => {
  it.each(CORTEX_M_TARGETS)('%s: bit-exact in all four modes', async (target) => {
    requireArmTools('test', defaultArmTools());
    const r = await verifyCortexM(bdir, bframes, { target, sizeAtOs: false });
    expect(formatCortexMLine(r)).toMatch(new RegExp(`^verify ${target}: 12/12 bit-exact, [\\d,]+ instructions/inference$`));
    expect(r.modes).toEqual(['full', 'exits', 'intervene', 'stream']);
    // some frames exit early (exits compared on both paths); the delta layer skips unchanged inputs while streaming
    expect(r.instructions.exits).toBeLessThan(r.instructions.full);
    expect(r.instructions.stream).toBeLessThan(r.instructions.full);
    expect(r.instructions.intervene).toBeGreaterThan(r.instructions.stream);
    expect(r.ram.arenaBytes).toBe(1040);
    if (target === 'cortex-m0') {
      // the micro:bit's nRF51822: everything in 16 KB of RAM and 256 KB of flash
      expect(r.ram.staticBytes + r.ram.stackBytes).toBeLessThanOrEqual(16 << 10);
      expect(r.flash.totalBytes).toBeLessThanOrEqual(256 << 10);
    }
  }, 60_000);

  it('predictions only, full and with exits: logits, the head that answered and instructions per frame equal runGraph', async () => {
    const { graph } = readModelDir(bdir);
    const [full, exits] = [await verifyCortexM(bdir, bframes, { target: 'cortex-m4', predictionsOnly: true, sizeAtOs: false }), await verifyCortexM(bdir, bframes, { target: 'cortex-m4', predictionsOnly: true, exits: true, sizeAtOs: false })];
    const ts = bframes.map((x) => runGraph(graph, x, { exits: true }));
    expect([full.exact, exits.exact]).toEqual([12, 12]);
    expect([full.modes, exits.modes]).toEqual([['full'], ['exits']]);
    expect(exits.exitsTaken).toEqual(ts.map((r) => r.exitTaken));
    expect(new Set(exits.exitsTaken).size).toBeGreaterThan(1); // some frames exit, some do not
    exits.logits!.forEach((l, f) => expect(Array.from(l)).toEqual(Array.from(ts[f]!.logits)));
    expect(full.exitsTaken).toBeUndefined();
    // a frame that exits executes fewer instructions than its full inference; one that does not, the same or more (the decisions)
    exits.instructions.perFrame.forEach((n, f) => (ts[f]!.exitTaken >= 0 ? expect(n).toBeLessThan(full.instructions.perFrame[f]!) : expect(n).toBeGreaterThanOrEqual(full.instructions.perFrame[f]! * 0.99)));
    expect(exits.instructions.exits).toBeLessThan(full.instructions.full);
    expect(Number.isNaN(exits.instructions.full)).toBe(true);
  }, 60_000);

  it('a wrong concept code is caught in the intervene mode, at the concept_intervene node (cortex-m0)', async () => {
    // concept 0's 'on' code becomes its 'off' code in the C data: only a run that forces concept 0 on sees it
    const bad = editedCopy(bdir, 'blocks-cbm', 'blocks_model_data.c', (text) => text.replace(/(blocks_cbm_high\[4\] TB_ALIGN16 = \{\n {2})(-?\d+)/, '$1-86'));
    const r = await verifyCortexM(bad, bframes.slice(0, 4), { target: 'cortex-m0', sizeAtOs: false });
    expect(r.exact).toBe(0);
    expect(r.firstMismatch).toMatchObject({ frame: 0, mode: 'intervene', field: 'trace', nodeIndex: 12, node: 'cbm', op: 'concept_intervene', byte: 0, c: -86, ts: 84 });
    expect(formatCortexMLine(r)).toMatch(/; first mismatch: frame 0, intervene, node 12 cbm \(concept_intervene\) byte 0: C -86 vs TS 84$/);
  }, 60_000);

  it('a stream that loses its delta state is caught in the stream mode, at the delta_dense node (cortex-m55)', async () => {
    // after each frame the C forgets the inputs the delta layer last sent (its khat), keeping the sums:
    // _run_ex starts from a reset state and stays right, the next stream frame does not
    const bad = editedCopy(bdir, 'blocks-state', 'blocks_model.c', (text) =>
      text.replace(
        '  return run_frame(frame, output, options, result);\n}',
        '  const int rc = run_frame(frame, output, options, result);\n  memset(blocks_delta_khat, 0, sizeof(blocks_delta_khat));\n  return rc;\n}',
      ),
    );
    const r = await verifyCortexM(bad, bframes.slice(0, 4), { target: 'cortex-m55', sizeAtOs: false });
    expect(r.exact).toBeLessThan(r.count); // frame 0 streams from the reset state and is right
    expect(r.firstMismatch).toMatchObject({ frame: 1, mode: 'stream', field: 'trace', nodeIndex: 9, node: 'delta', op: 'delta_dense' });
    expect(formatCortexMLine(r)).toMatch(/; first mismatch: frame 1, stream, node 9 delta \(delta_dense\) byte \d+: C -?\d+ vs TS -?\d+$/);
  }, 60_000);
});

// the shipped model, exported by the CLI, on Fashion-MNIST test images
const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '../../../cli/dist/bin.js');
const MODEL = join(here, '../../../models/model/reference');
/** Pixels 0-255 to input codes (as quantizeInput of @tinyblocks/quantize: round half away from zero). */
function imageCodes(graph: Int8Graph, px: Uint8Array): Int8Array {
  const t = graph.tensors[graph.input]!;
  return Int8Array.from(px, (p) => {
    const v = p / 255 / t.scale;
    const q = Math.sign(v) * Math.round(Math.abs(v)) + t.zeroPoint;
    return q < -128 ? -128 : q > 127 ? 127 : q;
  });
}
const SHIPPED_FRAMES = Number(process.env['TB_CORTEX_M_FRAMES'] ?? 10);

describe.skipIf(SKIP || !existsSync(CLI) || !existsSync(MODEL))('verifyCortexM (shipped model)', () => {
  it(`cortex-m4: ${SHIPPED_FRAMES} test images bit-exact`, async () => {
    const out = join(tmp.dir, 'ref-c');
    const ex = spawnSync(process.execPath, [CLI, 'export', MODEL, '--out', out], { encoding: 'utf8' });
    expect(ex.status, ex.stderr).toBe(0);
    const { graph } = readModelDir(out);
    const { loadFashionMnist } = (await import('@tinyblocks/datasets')) as typeof import('@tinyblocks/datasets');
    const set = loadFashionMnist({ split: 'test', source: 'subset', limit: SHIPPED_FRAMES });
    const inputs = Array.from({ length: set.count }, (_, i) => imageCodes(graph, set.images.subarray(i * 784, (i + 1) * 784)));
    const r = await verifyCortexM(out, inputs, { target: 'cortex-m4' });
    console.log(formatCortexMLine(r));
    console.log(JSON.stringify({ ...r, instructions: { ...r.instructions, perLayer: r.instructions.perLayer.map((l) => `${l.nodeIndex} ${l.node} (${l.op}): ${Math.round(l.instructions)}`) } }, null, 1));
    expect(r.firstMismatch).toBeUndefined();
    expect(r.exact).toBe(SHIPPED_FRAMES);
    expect(r.instructions.exits).toBeLessThanOrEqual(r.instructions.full);
    expect(r.ram.arenaBytes).toBe(25104);
    expect(r.flash.weightSymbolBytes).toBeGreaterThan(150_000);
  }, 120_000);
});
