/**
 * tinyblocks export / verify on the shipped model: the real quantization, C generation, the
 * machine's C compiler (twice: -Werror and ASan + UBSan) and byte comparison with the TS
 * reference. Without a C compiler the verify tests skip locally and fail under CI=true.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@tinyblocks/core';
import { saveModel } from '@tinyblocks/core/node';
import { buildArchitecture, infoMetadata, shippedModelDir } from '@tinyblocks/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyblocks-export-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const CC = process.env.CC ?? 'cc';
const HAS_CC = spawnSync(CC, ['--version'], { stdio: 'ignore' }).status === 0;
const SKIP_C = !HAS_CC && process.env.CI !== 'true';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await run(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

function files(dir: string): Record<string, Buffer> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

const first = path.join(tmp, 'first');
const second = path.join(tmp, 'second');

beforeAll(async () => {
  const r = await cli('export', shippedModelDir(), '--out', first);
  if (r.code !== 0) throw new Error(r.err);
}, 300_000);

describe('tinyblocks export', () => {
  it('writes the C files, the int8 graph and report.json, and prints the per-layer table with totals', async () => {
    const names = fs.readdirSync(first);
    for (const f of ['reference_model.h', 'reference_model.c', 'reference_model_data.c', 'reference.int8.json', 'report.json', 'tb_fixed_point.h', 'tb_conv2d.c', 'tb_delta_dense.c']) {
      expect(names).toContain(f);
    }
    const report = JSON.parse(fs.readFileSync(path.join(first, 'report.json'), 'utf8'));
    expect(report.plan.arenaSize).toBeLessThanOrEqual(report.plan.greedyBySize);
    expect(report.totals.macs).toBeGreaterThan(1_900_000);
    const header = fs.readFileSync(path.join(first, 'reference_model.h'), 'utf8');
    expect(header).toMatch(/#define REFERENCE_ARENA_SIZE \d+/);
    expect(header).toContain('int reference_run(const int8_t *input, int8_t *output);');
    // the early-exit heads run right after the layer they read: a taken exit skips the rest
    const order = report.nodes.map((n: { name: string }) => n.name);
    expect(order.indexOf('exit1_decide')).toBeLessThan(order.indexOf('conv3'));
    expect(order.indexOf('exit2_decide')).toBeLessThan(order.indexOf('pool6'));
    // the thresholds: the shipped model's tuned ones (model.json), one per head
    const graph = JSON.parse(fs.readFileSync(path.join(first, 'reference.int8.json'), 'utf8')) as { meta: { exitThreshold: unknown } };
    const meta = JSON.parse(fs.readFileSync(path.join(shippedModelDir(), 'model.json'), 'utf8')).userDefinedMetadata.tinyblocks as { exitThresholds: number[] };
    expect(meta.exitThresholds).toHaveLength(2);
    expect(graph.meta.exitThreshold).toEqual(meta.exitThresholds);
  });

  it('prints one table row per node and the totals', async () => {
    const out = path.join(tmp, 'printed');
    const r = await cli('export', shippedModelDir(), '--out', out, '--calib-count', '100', '--name', 'fashion');
    expect(r.code).toBe(0);
    for (const layer of ['conv1', 'norm1', 'act2', 'exit1_decide', 'delta6_fc7', 'norm7', 'cbm_intervene', 'cbm_head']) expect(r.out).toContain(layer);
    expect(r.out).toMatch(/flash: [\d,]+ bytes/);
    expect(r.out).toMatch(/peak SRAM: [\d,]+ bytes/);
    expect(r.out).toMatch(/arena plan: [\d,]+ bytes vs greedy-by-size [\d,]+ \(ratio (0\.\d+|1\.000)/);
    expect(r.out).toMatch(/MACs: [\d,]+ per inference/);
    expect(fs.existsSync(path.join(out, 'fashion_model.h'))).toBe(true);
  }, 300_000);

  it('exporting twice gives byte-identical files', async () => {
    const r = await cli('export', shippedModelDir(), '--out', second);
    expect(r.code).toBe(0);
    const a = files(first);
    const b = files(second);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const f of Object.keys(a)) expect(b[f]!.equals(a[f]!), f).toBe(true);
  }, 300_000);
});

describe.skipIf(SKIP_C)('tinyblocks verify --target host', () => {
  it('compiles, runs and matches the TS reference byte for byte', async () => {
    expect(HAS_CC, `C compiler '${CC}' not found (apt-get install gcc)`).toBe(true);
    const r = await cli('verify', first, '--target', 'host', '--count', '20', '--data', 'subset');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const [bitExact, agreement] = r.out.trim().split('\n').slice(-2);
    expect(bitExact).toBe('verify host: 20/20 bit-exact');
    expect(agreement).toMatch(/^float agreement: (19|20)\/20 top-1, worst layer \w+ \d+\.\d dB$/);
    expect(r.out).toContain('asan-ubsan');
  }, 300_000);

  it('the classic tutorial CNN (max pooling, dropout, dense softmax) trains, exports and verifies bit-exact, agreeing with float', async () => {
    const model = path.join(tmp, 'tutorial');
    const trained = await cli('train', '--arch', 'tutorial-cnn', '--epochs', '1', '--data', 'subset', '--limit', '1024', '--batch', '32', '--out', model);
    expect(trained.code, trained.err).toBe(0);
    const out = path.join(tmp, 'tutorial-c');
    const exported = await cli('export', model, '--out', out, '--calib-count', '200');
    expect(exported.code, exported.err).toBe(0);
    expect(exported.out).toMatch(/pool1\s+max_pool2d/);
    expect(exported.out).toMatch(/fc_softmax\s+softmax/);
    const r = await cli('verify', out, '--target', 'host', '--count', '50', '--data', 'subset');
    const [bitExact, agreement] = r.out.trim().split('\n').slice(-2);
    expect(bitExact).toBe('verify host: 50/50 bit-exact');
    expect(r.out).toContain('  modes: full\n'); // no exits, concepts or delta layer: none reported
    expect(r.out).not.toContain('early exit');
    expect(agreement).toMatch(/^float agreement: (49|50)\/50 top-1, worst layer \w+ \d+\.\d dB$/);
    expect(r.code).toBe(0);
    if (!HAS_ARM) return;
    const m4 = await cli('verify', out, '--target', 'cortex-m4', '--count', '5', '--data', 'subset');
    expect(m4.out.trim().split('\n').at(-2)).toMatch(/^verify cortex-m4: 5\/5 bit-exact, [\d,]+ instructions\/inference$/);
    expect(m4.code).toBe(0);
  }, 300_000);

  it('standard layers together (separable conv, zero padding, upsampling, concatenate, leaky ReLU, ELU, BN after a fused ReLU, global pooling, softmax) export and verify bit-exact on the host and Cortex-M4', async () => {
    const init = (k: number) => tfl.initializers.glorotUniform({ seed: k });
    const input = tfl.input({ shape: [28, 28, 1], name: 'image' });
    let x = tfl.layers.zeroPadding2d({ name: 'pad', padding: 2 }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1) }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ name: 'bn1' }).apply(x) as tfl.SymbolicTensor;
    const a = tfl.layers.separableConv2d({ name: 'sep', filters: 8, kernelSize: 3, padding: 'same', depthwiseInitializer: init(2), pointwiseInitializer: init(3) }).apply(x) as tfl.SymbolicTensor;
    const la = tfl.layers.leakyReLU({ name: 'leaky', alpha: 0.2 }).apply(a) as tfl.SymbolicTensor;
    const p = tfl.layers.maxPooling2d({ name: 'mp', poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
    const u = tfl.layers.upSampling2d({ name: 'up', size: [2, 2] }).apply(p) as tfl.SymbolicTensor;
    const e = tfl.layers.elu({ name: 'elu' }).apply(u) as tfl.SymbolicTensor;
    x = tfl.layers.concatenate({ name: 'cat' }).apply([la, e]) as tfl.SymbolicTensor;
    x = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
    const y = tfl.layers.dense({ name: 'fc', units: 10, activation: 'softmax', kernelInitializer: init(4) }).apply(x) as tfl.SymbolicTensor;
    const dir = path.join(tmp, 'standard');
    await saveModel(tfl.model({ inputs: input, outputs: y, name: 'standard' }), dir);
    const out = path.join(tmp, 'standard-c');
    const e1 = await cli('export', dir, '--out', out, '--calib-count', '100');
    expect(e1.code, e1.err).toBe(0);
    for (const op of ['pad2d', 'depthwise_conv2d', 'max_pool2d', 'upsample2d', 'concat', 'avg_pool2d', 'softmax']) expect(e1.out).toContain(` ${op} `);
    const host = await cli('verify', out, '--target', 'host', '--count', '20', '--data', 'subset', '--min-agreement', '0.5');
    expect(host.out.trim().split('\n').at(-2)).toBe('verify host: 20/20 bit-exact');
    expect(host.out.trim().split('\n').at(-1)).toMatch(/^float agreement: \d+\/20 top-1, worst layer \w+ \d+\.\d dB$/);
    if (!HAS_ARM) return;
    const m4 = await cli('verify', out, '--target', 'cortex-m4', '--count', '5', '--data', 'subset', '--min-agreement', '0.5');
    expect(m4.out.trim().split('\n').at(-2)).toMatch(/^verify cortex-m4: 5\/5 bit-exact, [\d,]+ instructions\/inference$/);
  }, 300_000);

  it('int8 against a float model it does not compute: exit 1 below --min-agreement, though bit-exact', async () => {
    // the same architecture with other (untrained) weights: C == TS still, but TS != this model
    const other = path.join(tmp, 'other-weights');
    const { model, info } = buildArchitecture('reference', 7);
    await saveModel(model, other, infoMetadata(info));
    const r = await cli('verify', first, '--target', 'host', '--count', '20', '--data', 'subset', '--model', other);
    const [bitExact, agreement] = r.out.trim().split('\n').slice(-2);
    expect(bitExact).toBe('verify host: 20/20 bit-exact');
    expect(agreement).toMatch(/^float agreement: \d+\/20 top-1, worst layer \w+ (-?\d+\.\d dB|-inf) \(below --min-agreement 0\.97\)$/);
    expect(r.code).toBe(1);
  }, 300_000);

  it('a changed weight byte fails with exit 1 and names the first differing layer', async () => {
    const broken = path.join(tmp, 'broken');
    fs.cpSync(first, broken, { recursive: true });
    const data = path.join(broken, 'reference_model_data.c');
    const text = fs.readFileSync(data, 'utf8');
    // the first value of conv2's weights array
    const at = text.indexOf('reference_conv2_weights');
    const brace = text.indexOf('{', at);
    const m = /-?\d+/.exec(text.slice(brace))!;
    const start = brace + m.index;
    const changed = String(Number(m[0]) === 127 ? 126 : Number(m[0]) + 1);
    fs.writeFileSync(data, text.slice(0, start) + changed + text.slice(start + m[0].length));
    const r = await cli('verify', broken, '--target', 'host', '--count', '5', '--data', 'subset');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/first difference: layer #\d+ conv2 \(conv2d\)/);
    expect(r.out).toMatch(/verify host: [0-4]\/5 bit-exact/);
  }, 300_000);
});

const HAS_ARM = ['arm-none-eabi-gcc', 'qemu-system-arm'].every((t) => spawnSync(t, ['--version'], { stdio: 'ignore' }).status === 0);
const SKIP_ARM = !HAS_ARM && process.env.CI !== 'true';
if (SKIP_ARM) console.warn('[cli] arm-none-eabi-gcc / qemu-system-arm not found: skipping Cortex-M verify tests (apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)');

describe.skipIf(SKIP_ARM)('tinyblocks verify --target cortex-m4 (QEMU)', () => {
  it('runs the firmware in QEMU, bit-exact, with sizes, stack and instruction counts', async () => {
    expect(HAS_ARM, 'arm-none-eabi-gcc and qemu-system-arm are required under CI=true').toBe(true);
    const r = await cli('verify', first, '--board', 'tiny64k', '--count', '5', '--data', 'subset');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('on emulated cortex-m4 (qemu-system-arm -M mps2-an386)');
    expect(r.out).toMatch(/flash: code [\d,]+ B .*weights and tables [\d,]+ B/);
    expect(r.out).toMatch(/stack high-water mark [\d,]+ B/);
    expect(r.out).toMatch(/\d+\s+conv2\s+conv2d\s+[\d,]+/);
    expect(r.out.trim().split('\n').at(-2)).toMatch(/^verify cortex-m4: 5\/5 bit-exact, [\d,]+ instructions\/inference$/);
    expect(r.out.trim().split('\n').at(-1)).toMatch(/^float agreement: 5\/5 top-1/);
  }, 120_000);

  it('a board budget the model exceeds fails before building', async () => {
    const r = await cli('verify', first, '--board', 'tiny64k', '--sram', '20k');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/SRAM: expected at most 20,480 bytes \(--board tiny64k --sram 20k\).*the peak is set by node \d+/);
  });
});

describe('tinyblocks export / verify: bad input exits 2 and leaves no output directory', () => {
  beforeAll(() => initBackend('cpu'));

  async function expectRefused(modelDir: string, pattern: RegExp) {
    const out = path.join(tmp, `refused-${path.basename(modelDir)}`);
    const r = await cli('export', modelDir, '--out', out, '--calib-count', '20');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(pattern);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('refused') && f.includes('.tmp'))).toEqual([]);
  }

  it('a model with an unsupported layer: names the layer and its class', async () => {
    const input = tfl.input({ shape: [28, 28, 1] });
    let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.conv2dTranspose({ name: 'up', filters: 4, kernelSize: 2, strides: 2 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 10 }).apply(x) as tfl.SymbolicTensor });
    const dir = path.join(tmp, 'unsupported');
    await saveModel(model, dir);
    await expectRefused(dir, /up: class: expected a layer with an int8 lowering.*got "Conv2DTranspose"/);
  }, 60_000);

  it('a corrupt weights file: names the file', async () => {
    const dir = path.join(tmp, 'corrupt-weights');
    fs.cpSync(shippedModelDir(), dir, { recursive: true });
    fs.truncateSync(path.join(dir, 'weights.bin'), 1000);
    await expectRefused(dir, /weights\.bin: byteLength: expected \d+ bytes/);
  }, 60_000);

  it('a model.json missing a field: names the field', async () => {
    const dir = path.join(tmp, 'missing-field');
    fs.cpSync(shippedModelDir(), dir, { recursive: true });
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    delete json.weightsManifest;
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    await expectRefused(dir, /model\.json: tinyblocksIntegrity: expected model\.json as tinyblocks saved it/); // the edit is noticed
    delete json.tinyblocksIntegrity;
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    await expectRefused(dir, /model\.json: weightsManifest: expected/);
  }, 60_000);

  it('a model that does not fit the budget: by how many bytes and which layer sets the peak', async () => {
    const out = path.join(tmp, 'too-big');
    const r = await cli('export', shippedModelDir(), '--out', out, '--calib-count', '20', '--sram', '16k', '--flash', '256k');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/reference: SRAM: expected at most 16,384 bytes \(--sram 16k --flash 256k\), got "[\d,]+ bytes" \([\d,]+ bytes over; the peak is set by node \d+ \w+ \(\w+\): [\d,]+ bytes of activations live/);
    expect(fs.existsSync(out)).toBe(false);
    const flash = await cli('export', shippedModelDir(), '--out', out, '--calib-count', '20', '--board', 'tiny64k', '--flash', '100k');
    expect(flash.code).toBe(2);
    expect(flash.err).toMatch(/flash: expected at most 102,400 bytes \(--board tiny64k --flash 100k\), got "161,568 bytes of weights and tables"/);
    const fits = await cli('export', shippedModelDir(), '--out', out, '--calib-count', '20', '--board', 'tiny64k');
    expect(fits.code).toBe(0);
    expect(fits.out).toMatch(/fits --board tiny64k: SRAM [\d,]+ of 65,536 bytes, weights [\d,]+ of 262,144 bytes of flash/);
    const board = await cli('export', shippedModelDir(), '--out', out, '--board', 'esp32');
    expect(board.code).toBe(2);
    expect(board.err).toContain('--board: expected one of stm32f746, stm32f412, nrf52840, tiny64k, got "esp32"');
  }, 120_000);

  it('verify on a folder that is not an export', async () => {
    const r = await cli('verify', tmp, '--target', 'host');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/tinyblocks-manifest\.json: file: expected the manifest of a C export written by tinyblocks export, got "no such file"/);
    const target = await cli('verify', first, '--target', 'cortex-m99');
    expect(target.code).toBe(2);
    expect(target.err).toContain('target');
  });
});
