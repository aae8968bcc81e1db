import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { shippedModelDir } from '@tinyblocks/models';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './cli.js';
import { formatDuration, ProgressBar } from './progress.js';

const pkgDir = path.resolve(import.meta.dirname, '..');
/** The command npm links as `tinyblocks` (package.json bin). */
const bin = path.join(pkgDir, (JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { bin: { tinyblocks: string } }).bin.tinyblocks);
const HAS_CC = spawnSync(process.env.CC ?? 'cc', ['--version'], { stdio: 'ignore' }).status === 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyblocks-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI in-process, capturing stdout and stderr. */
async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await run(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

describe('tinyblocks CLI: bad input', () => {
  it('exits 2 with a typed message for unknown commands, options and architectures', async () => {
    expect((await cli('frobnicate')).code).toBe(2);
    const noOut = await cli('train', '--epochs', '1');
    expect(noOut.code).toBe(2);
    expect(noOut.err).toContain('tinyblocks train: --out: expected an output directory, got undefined');
    const arch = await cli('train', '--arch', 'resnet', '--out', path.join(tmp, 'x'));
    expect(arch.err).toContain('tinyblocks train: --arch: expected one of reference, reference-wide, reference-small, tutorial-cnn, got "resnet"');
    expect(arch.code).toBe(2);
    const opt = await cli('train', '--epoch', '1');
    expect(opt.code).toBe(2);
    expect(opt.err).toContain("tinyblocks train: --epoch");
    const epochs = await cli('train', '--epochs', '0', '--out', path.join(tmp, 'x'));
    expect(epochs.err).toContain('--epochs: expected an integer from 1 to 10,000, got "0"');
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
  });

  it('eval names the missing or corrupt file', async () => {
    const missing = await cli('eval', path.join(tmp, 'nothing'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nothing: folder: expected a model folder \(model\.json \+ weights\), got "no such folder"/);
    const corrupt = path.join(tmp, 'corrupt');
    fs.cpSync(shippedModelDir(), corrupt, { recursive: true });
    fs.truncateSync(path.join(corrupt, 'weights.bin'), 100);
    const bad = await cli('eval', corrupt, '--data', 'subset');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/weights\.bin: byteLength: expected \d+ bytes/);
  });
});

describe('tinyblocks CLI: train, eval, info, demo', () => {
  it('trains a small model on the shipped subset, saves it, and eval reads it back', async () => {
    const out = path.join(tmp, 'small');
    const trained = await cli('train', '--arch', 'reference-small', '--epochs', '1', '--data', 'subset', '--limit', '256', '--batch', '32', '--out', out);
    expect(trained.err).toContain('epoch 1/1 [');
    expect(trained.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['model.json', 'tinyblocks-manifest.json', 'weights.bin']);
    const trainAcc = /accuracy: (0\.\d{4}) on 2000 images/.exec(trained.out);
    expect(trainAcc).not.toBeNull();
    const evaluated = await cli('eval', out, '--data', 'subset');
    expect(evaluated.code).toBe(0);
    const lines = evaluated.out.trim().split('\n');
    expect(lines[lines.length - 1]).toBe(`accuracy: ${trainAcc![1]} on 2000 images`);
    expect(evaluated.out).toContain('early exit (rule: max softmax >= threshold');
  }, 120_000);

  it('qat fine-tunes with fake quantization, saves a model that loads, and reports float and int8 accuracy', async () => {
    const out = path.join(tmp, 'small-qat');
    const r = await cli('qat', path.join(tmp, 'small'), '--out', out, '--epochs', '1');
    expect(r.code).toBe(0);
    expect(r.err).toContain('qat epoch 1/1 [');
    expect(r.out).toMatch(/QAT: 46 steps in \d+s on 3000 subset images/);
    const m = /float (0\.\d{4}) -> (0\.\d{4}), int8 (0\.\d{4}) -> (0\.\d{4})/.exec(r.out)!;
    expect(m).not.toBeNull();
    // a small model trained on 256 images: int8 tracks float before and after fine-tuning
    expect(Math.abs(Number(m[1]) - Number(m[3]))).toBeLessThan(0.05);
    expect(Math.abs(Number(m[2]) - Number(m[4]))).toBeLessThan(0.05);
    const evaluated = await cli('eval', out, '--data', 'subset');
    expect(evaluated.out.trim().split('\n').at(-1)).toBe(`accuracy: ${m[2]} on 2000 images`);
  }, 300_000);

  it('retrain-exits swaps in grid heads, keeps the final accuracy, tunes thresholds that export uses', async () => {
    const src = path.join(tmp, 'small');
    const out = path.join(tmp, 'small-exits');
    const r = await cli('retrain-exits', src, '--out', out, '--pooling', 'concat', '--grid', '2,1', '--epochs', '2', '--max-loss', '0.01');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('exit heads epoch 2/2 [');
    expect(r.out).toMatch(/retrained 2 exit heads: 92 steps in \d+s on 3000 subset training images/);
    expect(r.out).toContain('accuracy on test images 1000-1999 (1000, not used for tuning):');
    expect(r.out).toMatch(/exit1\s+exit\s+concat, grid 2/);
    expect(r.out).toMatch(/exit2\s+exit\s+concat, grid 1/);
    // the final classifier is untouched: same accuracy before and after
    const finalRow = r.out.split('\n').find((l) => /^cbm\s/.test(l))!.trim().split(/\s+/);
    expect(finalRow.at(-1)).toBe(finalRow.at(-2));
    const th = /thresholds tuned on test images 0-999 \(max loss 0\.01\): (\S+), (\S+)/.exec(r.out);
    expect(th).not.toBeNull();
    const tuned = /tuning images:\s+accuracy (0\.\d{4}) vs (0\.\d{4}) without exits/.exec(r.out)!;
    expect(Number(tuned[1])).toBeGreaterThanOrEqual(Number(tuned[2]) - 0.01 - 1e-9);
    expect(r.out).toMatch(/reported images: accuracy 0\.\d{4} vs 0\.\d{4} without exits, -?[\d.]+% fewer MACs/);
    // export takes the tuned thresholds from the model's metadata
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8')) as { userDefinedMetadata: { tinyblocks: { exitThresholds: number[] } } };
    const thresholds = saved.userDefinedMetadata.tinyblocks.exitThresholds;
    expect(thresholds.map(String)).toEqual([th![1], th![2]].map((t) => (t === 'never' ? '2' : t)));
    const ex = await cli('export', out, '--out', path.join(tmp, 'small-exits-c'));
    expect(ex.code, ex.err).toBe(0);
    const graphFile = fs.readdirSync(path.join(tmp, 'small-exits-c')).find((f) => f.endsWith('.int8.json'))!;
    const graph = JSON.parse(fs.readFileSync(path.join(tmp, 'small-exits-c', graphFile), 'utf8')) as { meta: { exitThreshold: number[] }; nodes: Array<{ op: string; grid?: number; concat?: boolean }> };
    expect(graph.meta.exitThreshold).toEqual(thresholds);
    expect(graph.nodes.filter((n) => n.op === 'mix_pool').map((n) => [n.grid ?? 1, n.concat])).toEqual([[2, true], [1, true]]);
    // bad input: a grid that does not divide the map, one value too many; nothing written
    const bad = await cli('retrain-exits', src, '--out', path.join(tmp, 'bad-exits'), '--grid', '3');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("EarlyExitHead 'exit1': input: expected [batch, H, W, channels] with H and W divisible by grid 3");
    const many = await cli('retrain-exits', src, '--out', path.join(tmp, 'bad-exits'), '--pooling', 'avg,max,mix');
    expect(many.err).toContain('--pooling: expected one value, or one per exit head (2), got "avg,max,mix"');
    expect(fs.existsSync(path.join(tmp, 'bad-exits'))).toBe(false);
  }, 300_000);

  it('eval --int8 measures the quantized graph with the integer reference next to float', async () => {
    const r = await cli('eval', shippedModelDir(), '--data', 'subset', '--limit', '300', '--int8');
    expect(r.code).toBe(0);
    const int8 = /int8 accuracy: (0\.\d{4}) on 300 images/.exec(r.out);
    const float = /^accuracy: (0\.\d{4}) on 300 images$/m.exec(r.out);
    expect(int8).not.toBeNull();
    expect(Math.abs(Number(int8![1]) - Number(float![1]))).toBeLessThan(0.02);
    expect(r.out).toContain('int8 (percentile calibration, equalization on)');
    const bad = await cli('eval', shippedModelDir(), '--int8', '--equalize', 'maybe');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--equalize: expected one of on, off, got "maybe"');
  }, 120_000);

  it('info lists every layer with params and MACs that add up', async () => {
    const { code, out } = await cli('info', shippedModelDir());
    expect(code).toBe(0);
    const rows = out.split('\n').filter((l) => /^(conv|norm|act|dw|exit|pool|flat|delta|fc|cbm)\w*\s/.test(l));
    expect(rows.length).toBe(19);
    const num = (s: string) => Number(s.replaceAll(',', ''));
    const total = out.split('\n').find((l) => l.startsWith('total'))!.trim().split(/\s+/);
    const macs = rows.reduce((a, r) => a + num(r.trim().split(/\s+/).pop()!), 0);
    expect(num(total[total.length - 1]!)).toBe(macs);
  });

  it('the built binary runs the demo end to end and exits 0 (2 on bad input)', () => {
    const demo = execFileSync(process.execPath, [bin, 'demo', '--out', path.join(tmp, 'demo-c')], { encoding: 'utf8' });
    expect(demo).toContain('concept bottleneck, test image');
    expect(demo).toMatch(/intervention: "high top" = 1, "open" = 0 -> predicted Ankle boot/);
    expect(demo).toContain('delta layer on a 32-frame moving Fashion-MNIST stream');
    const tail = demo.trim().split('\n').slice(-4);
    expect(tail[0]).toMatch(/^accuracy: float 0\.\d{4}, int8 0\.\d{4} on 2000 images$/);
    expect(tail[1]).toMatch(/^sizes: flash [\d,]+ bytes of weights and tables, peak SRAM [\d,]+ bytes, [\d,]+ MACs per image$/);
    expect(tail[2]).toMatch(HAS_CC ? /^verify host: (\d+)\/\1 bit-exact$/ : /^verify host: skipped/);
    expect(tail[3]).toMatch(/^verify cortex-m4: ((\d+)\/\2 bit-exact, [\d,]+ instructions\/inference|skipped \(apt-get install .*qemu-system-arm\))$/);
    expect(demo).toMatch(/int8 delta layer \(delta6_fc7\) on the same 32-frame stream: [\d.]+% of its MACs executed, [\d.]+% skipped; every frame's logits equal a fresh run: 32\/32/);
    const bad = spawnSync(process.execPath, [bin, 'eval', path.join(tmp, 'nope')], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('error: ');
  }, 300_000);
});

describe('the tinyblocks command', () => {
  it('is a file that exists before any build, so npm ci in a fresh clone links it', () => {
    const rel = path.relative(pkgDir, bin);
    expect(rel.startsWith('dist')).toBe(false);
    const tracked = spawnSync('git', ['ls-files', '--error-unmatch', rel], { cwd: pkgDir, encoding: 'utf8' });
    expect(tracked.status, `${rel} must be committed`).toBe(0);
    expect(fs.statSync(bin).mode & 0o111).not.toBe(0);
  });

  it('says to build first when dist/ is missing (exit 1)', () => {
    const copy = path.join(tmp, 'unbuilt', 'bin');
    fs.mkdirSync(copy, { recursive: true });
    fs.copyFileSync(bin, path.join(copy, path.basename(bin)));
    const r = spawnSync(process.execPath, [path.join(copy, path.basename(bin)), '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not built yet (no dist/bin.js): run `npm run build`');
  });
});

describe('progress bar', () => {
  it('prints a line per 10% off a terminal and redraws in place on one', () => {
    let text = '';
    const bar = new ProgressBar({ write: (s: string) => (text += s) });
    for (let i = 0; i <= 100; i++) bar.update(i / 100, 'epoch 1/1', { loss: '0.1' });
    expect(text.trim().split('\n')).toHaveLength(11);
    let tty = '';
    const live = new ProgressBar({ isTTY: true, write: (s: string) => (tty += s) });
    live.update(0.5, 'x', {});
    expect(tty.startsWith('\r\x1b[2K')).toBe(true);
    expect(formatDuration(125)).toBe('2m05s');
  });
});
