import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { DataError } from './errors.js';
import { execFileSync } from 'node:child_process';
import { INTEGRITY_FIELD, loadModel, OUTPUT_MANIFEST, readModelFiles, saveModel, writeOutDir } from './node.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tb-core-'));
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function smallModel() {
  const input = tfl.input({ shape: [6, 6, 1] });
  const c = tfl.layers.conv2d({ filters: 3, kernelSize: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }).apply(input);
  const d = tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }).apply(tfl.layers.flatten().apply(c));
  return tfl.model({ inputs: input, outputs: d as tfl.SymbolicTensor });
}

describe('saveModel / loadModel', () => {
  beforeAll(() => initBackend('cpu'));

  it('round-trips a model with identical predictions and metadata', async () => {
    const dir = tmp(); dirs.push(dir);
    const m = smallModel();
    await saveModel(m, path.join(dir, 'm'), { note: 'hello' });
    expect(fs.readdirSync(path.join(dir, 'm')).sort()).toEqual(['model.json', OUTPUT_MANIFEST, 'weights.bin']);
    const loaded = await loadModel(path.join(dir, 'm'));
    const x = tf.randomUniform([2, 6, 6, 1], 0, 1, 'float32', 7);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((m.predict(x) as tf.Tensor).dataSync()));
    expect(loaded.getUserDefinedMetadata()).toEqual({ note: 'hello' });
  });

  it('names the file and field of a corrupt or incomplete model', async () => {
    const dir = tmp(); dirs.push(dir);
    const m = path.join(dir, 'm');
    await saveModel(smallModel(), m);
    const weights = path.join(m, 'weights.bin');
    fs.writeFileSync(weights, fs.readFileSync(weights).subarray(0, 10));
    expect(() => readModelFiles(m)).toThrow(DataError);
    expect(() => readModelFiles(m)).toThrow(/weights\.bin: byteLength: expected \d+ bytes .* got "10 bytes"/);

    const json = JSON.parse(fs.readFileSync(path.join(m, 'model.json'), 'utf8'));
    delete json.weightsManifest;
    delete json[INTEGRITY_FIELD];
    fs.writeFileSync(path.join(m, 'model.json'), JSON.stringify(json));
    expect(() => readModelFiles(m)).toThrow(/model\.json: weightsManifest: expected an array, got undefined/);

    fs.writeFileSync(path.join(m, 'model.json'), '{not json');
    expect(() => readModelFiles(m)).toThrow(/model\.json: contents: expected valid JSON/);
    await expect(loadModel(path.join(dir, 'nothing'))).rejects.toThrow(/nothing: folder: expected a model folder .*, got "no such folder"/);
    fs.mkdirSync(path.join(dir, 'empty'));
    await expect(loadModel(path.join(dir, 'empty'))).rejects.toThrow(/empty\/model\.json: file: expected a model\.json file, got "no such file"/);
  });

  it('rejects an unknown layer class with a DataError naming modelTopology', async () => {
    const dir = tmp(); dirs.push(dir);
    const m = path.join(dir, 'm');
    await saveModel(smallModel(), m);
    const file = path.join(m, 'model.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"Flatten"', '"tinyblocks>NoSuchLayer"'));
    // the integrity hash notices the edit first; without it, the class is named
    await expect(loadModel(m)).rejects.toThrow(/model\.json: tinyblocksIntegrity: expected model\.json as tinyblocks saved it/);
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    delete json[INTEGRITY_FIELD];
    fs.writeFileSync(file, JSON.stringify(json));
    await expect(loadModel(m)).rejects.toThrow(/layer class known to tf\.layers .*got "tinyblocks>NoSuchLayer"/);
  });
});

/** A saved model without its integrity record (as a model from another tool would be). */
async function foreignModel(dir: string): Promise<{ m: string; file: string; json: Record<string, any> }> {
  const m = path.join(dir, 'm');
  await saveModel(smallModel(), m);
  const file = path.join(m, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  delete json[INTEGRITY_FIELD];
  fs.writeFileSync(file, JSON.stringify(json));
  return { m, file, json };
}

describe('loadModel on hostile folders', () => {
  beforeAll(() => initBackend('cpu'));

  it('keeps weight paths inside the model folder', async () => {
    const dir = tmp(); dirs.push(dir);
    const { m, file, json } = await foreignModel(dir);
    const outside = path.join(dir, 'outside.bin');
    fs.copyFileSync(path.join(m, 'weights.bin'), outside);
    for (const p of ['../outside.bin', outside, '../../../../etc/passwd', 'sub/../../outside.bin']) {
      json.weightsManifest[0].paths = [p];
      fs.writeFileSync(file, JSON.stringify(json));
      expect(() => readModelFiles(m), p).toThrow(/weightsManifest\[0\]\.paths\[0\]: expected a file name inside .*no symlink leading out/);
    }
    fs.symlinkSync(outside, path.join(m, 'link.bin'));
    json.weightsManifest[0].paths = ['link.bin'];
    fs.writeFileSync(file, JSON.stringify(json));
    expect(() => readModelFiles(m)).toThrow(/resolves to .*outside\.bin/);
  });

  it('reads only regular files of the declared size: no endless device, no FIFO, no folder', async () => {
    const dir = tmp(); dirs.push(dir);
    const { m, file, json } = await foreignModel(dir);
    fs.symlinkSync('/dev/zero', path.join(m, 'zero.bin'));
    json.weightsManifest[0].paths = ['zero.bin'];
    fs.writeFileSync(file, JSON.stringify(json));
    // /dev/zero is outside the folder; a device inside it is refused as a device
    expect(() => readModelFiles(m)).toThrow(/no symlink leading out/);
    execFileSync('mkfifo', [path.join(m, 'pipe.bin')]);
    json.weightsManifest[0].paths = ['pipe.bin'];
    fs.writeFileSync(file, JSON.stringify(json));
    const t0 = performance.now();
    expect(() => readModelFiles(m)).toThrow(/pipe\.bin: file: expected a weights file, got "a FIFO \(named pipe\)"/);
    expect(performance.now() - t0).toBeLessThan(2000);
    fs.mkdirSync(path.join(m, 'dir.bin'));
    json.weightsManifest[0].paths = ['dir.bin'];
    fs.writeFileSync(file, JSON.stringify(json));
    expect(() => readModelFiles(m)).toThrow(/dir\.bin: file: expected a weights file, got "a folder"/);
    json.weightsManifest[0].paths = ['weights.bin'];
    fs.writeFileSync(file, JSON.stringify(json));
    fs.appendFileSync(path.join(m, 'weights.bin'), Buffer.alloc(8));
    expect(() => readModelFiles(m)).toThrow(/weights\.bin: byteLength: expected \d+ bytes for the \d+ weights .* got "\d+ bytes"/);
    fs.rmSync(file);
    fs.mkdirSync(file);
    expect(() => readModelFiles(m)).toThrow(/model\.json: file: expected a model\.json file, got "a folder"/);
  });

  it('NaN, Inf and absurd weights are errors naming the weight; a changed weights file is noticed', async () => {
    const dir = tmp(); dirs.push(dir);
    const m = path.join(dir, 'm');
    await saveModel(smallModel(), m);
    const wfile = path.join(m, 'weights.bin');
    const good = fs.readFileSync(wfile);
    const bad = Buffer.from(good);
    bad.writeFloatLE(1e-3, 8);
    fs.writeFileSync(wfile, bad);
    expect(() => readModelFiles(m)).toThrow(/weights\.bin: contents: expected the weights tinyblocks saved/);
    const { m: f, json } = await foreignModel(tmp());
    dirs.push(path.dirname(f));
    const fw = path.join(f, 'weights.bin');
    const name = json.weightsManifest[0].weights[0].name;
    for (const [v, msg] of [[NaN, /expected a finite number, got "NaN"/], [Infinity, /expected a finite number, got "Infinity"/], [1e38, /expected a magnitude of at most 1e\+6/]] as const) {
      const b = Buffer.from(good);
      b.writeFloatLE(v, 4);
      fs.writeFileSync(fw, b);
      expect(() => readModelFiles(f)).toThrow(new RegExp(`weight '${name}'\\[1\\]: ${msg.source}`));
    }
  });
});

describe('loadModel runs the model once', () => {
  beforeAll(() => initBackend('cpu'));

  it('a model that answers NaN on a zero input (a negative BatchNorm variance) is refused, naming the output', async () => {
    const dir = tmp(); dirs.push(dir);
    const input = tfl.input({ shape: [4] });
    const bn = tfl.layers.batchNormalization({ name: 'bn' });
    const m = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2, name: 'out' }).apply(bn.apply(input)) as tfl.SymbolicTensor });
    const [gamma, beta, mean] = bn.getWeights();
    bn.setWeights([gamma!, beta!, mean!, tf.tensor([-1, 1, 1, 1])]); // finite, plausible-sized, but sqrt(-1 + eps)
    await saveModel(m, path.join(dir, 'm'));
    await expect(loadModel(path.join(dir, 'm'))).rejects.toThrow(/model\.json: output 0 \(out\): expected finite numbers for a zero input, got "NaN"/);
    // the check can be turned off (a caller that runs the model itself)
    await expect(loadModel(path.join(dir, 'm'), { checkRuns: false })).resolves.toBeDefined();
  });
});

describe('writeOutDir', () => {
  it('updates its own output in place, keeps what the user added, and leaves nothing staged', () => {
    const dir = tmp(); dirs.push(dir);
    const out = path.join(dir, 'out');
    writeOutDir(out, { 'a.txt': 'one' }, { kind: 'test' });
    fs.writeFileSync(path.join(out, 'mine.txt'), 'mine');
    const r = writeOutDir(out, { 'b.txt': 'two' }, { kind: 'test' });
    expect(r.removed).toEqual(['a.txt']);
    expect(r.kept).toEqual(['mine.txt']);
    expect(fs.readdirSync(out).sort()).toEqual(['b.txt', 'mine.txt', OUTPUT_MANIFEST]);
    // a file name that cannot be created fails the write: the previous output stays whole
    expect(() => writeOutDir(out, { 'c.txt': 'x', 'd.txt': 42 as unknown as string }, { kind: 'test' })).toThrow();
    expect(fs.readdirSync(out).sort()).toEqual(['b.txt', 'mine.txt', OUTPUT_MANIFEST]);
    expect(() => writeOutDir(path.join(dir, 'new'), { 'x/y': 'nested' }, { kind: 'test' })).toThrow(/plain file names/);
    expect(fs.readdirSync(dir)).toEqual(['out']);
  });

  it('refuses a folder it did not write, another kind of output, a file, and a path through a file', () => {
    const dir = tmp(); dirs.push(dir);
    fs.writeFileSync(path.join(dir, 'README.md'), 'project');
    expect(() => writeOutDir(dir, { 'model.json': '{}' }, { kind: 'model' })).toThrow(/a folder with 1 entry tinyblocks did not write \(README\.md\)/);
    const out = path.join(dir, 'export');
    writeOutDir(out, { 'a.c': '' }, { kind: 'c-export' });
    expect(() => writeOutDir(out, { 'model.json': '{}' }, { kind: 'model' })).toThrow(/holding a tinyblocks c-export output/);
    expect(() => writeOutDir(path.join(dir, 'README.md'), { 'a': '' }, { kind: 'model' })).toThrow(/an existing file/);
    expect(() => writeOutDir(path.join(dir, 'README.md', 'sub'), { 'a': '' }, { kind: 'model' })).toThrow(/a path through/);
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('project');
    expect(fs.readdirSync(out).sort()).toEqual(['a.c', OUTPUT_MANIFEST]);
  });
});
