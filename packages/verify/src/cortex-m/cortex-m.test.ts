/**
 * verifyCortexM with the real arm-none-eabi toolchain and QEMU (no mocks): a standard-ops graph
 * verifies bit-exact on every Cortex-M target; executed-instruction counts repeat exactly; a
 * corrupted weight, a link overflow, a guest fault, a timeout and a missing toolchain are typed
 * errors or mismatches; the shipped model's export verifies on Cortex-M4 with test images.
 * Locally a missing toolchain skips with the packages to install; under CI=true it fails.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateC, writeExport } from '@tinyblocks/export-c';
import type { Int8Graph } from '@tinyblocks/int8';
import { makeTempDir } from '@tinyblocks/testkit/c';
import { afterAll, describe, expect, it } from 'vitest';
import { readModelDir } from '../model-dir.js';
import { VerifyError } from '../toolchain.js';
import { randomFrames, standardGraph } from '../test-graphs.js';
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

describe.skipIf(SKIP)('verifyCortexM (standard ops)', () => {
  it('cortex-m4: bit-exact, instruction counts identical on two runs', async () => {
    requireArmTools('test', defaultArmTools());
    const [a, b] = [await verifyCortexM(dir, frames, { target: 'cortex-m4' }), await verifyCortexM(dir, frames, { target: 'cortex-m4', sizeAtOs: false })];
    expect(a.firstMismatch).toBeUndefined();
    expect(formatCortexMLine(a)).toMatch(/^verify cortex-m4: 4\/4 bit-exact, [\d,]+ instructions\/inference$/);
    expect(a).toMatchObject({ name: 'tiny', target: 'cortex-m4', machine: 'mps2-an386', count: 4, exact: 4, modes: ['full', 'exits'] });
    expect(b.instructions.perFrame).toEqual(a.instructions.perFrame);
    expect(b.instructions.perLayer).toEqual(a.instructions.perLayer);
    expect(b.instructions.exits).toBe(a.instructions.exits);
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
    const bad = join(tmp.dir, 'corrupt');
    cpSync(dir, bad, { recursive: true });
    const file = join(bad, 'tiny_model_data.c');
    const text = readFileSync(file, 'utf8');
    const edited = text.replace(/(tiny_conv_1_2_weights\[72\] TB_ALIGN16 = \{\n {2})(-?\d+)/, (_m, head: string, v: string) => `${head}${Number(v) > 0 ? -127 : 127}`);
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
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
    const bad = join(tmp.dir, 'trap');
    cpSync(dir, bad, { recursive: true });
    const file = join(bad, 'tiny_model.c');
    const text = readFileSync(file, 'utf8');
    const edited = text.replace('TB_TRACE(0, ', '__builtin_trap();\n  TB_TRACE(0, ');
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
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
