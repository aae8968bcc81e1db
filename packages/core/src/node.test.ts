import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { DataError } from './errors.js';
import { loadModel, readModelFiles, saveModel, writeDirAtomic } from './node.js';

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
    expect(fs.readdirSync(path.join(dir, 'm')).sort()).toEqual(['model.json', 'weights.bin']);
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
    fs.writeFileSync(path.join(m, 'model.json'), JSON.stringify(json));
    expect(() => readModelFiles(m)).toThrow(/model\.json: weightsManifest: expected an array, got undefined/);

    fs.writeFileSync(path.join(m, 'model.json'), '{not json');
    expect(() => readModelFiles(m)).toThrow(/model\.json: contents: expected valid JSON/);
    await expect(loadModel(path.join(dir, 'nothing'))).rejects.toThrow(/nothing\/model\.json: file: expected a model\.json file, got "no such file"/);
  });

  it('rejects an unknown layer class with a DataError naming modelTopology', async () => {
    const dir = tmp(); dirs.push(dir);
    const m = path.join(dir, 'm');
    await saveModel(smallModel(), m);
    const file = path.join(m, 'model.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"Flatten"', '"tinyblocks>NoSuchLayer"'));
    await expect(loadModel(m)).rejects.toThrow(/model\.json: modelTopology: expected layers known to tf\.layers/);
  });
});

describe('writeDirAtomic', () => {
  it('replaces a directory whole, and leaves nothing behind when a write fails', () => {
    const dir = tmp(); dirs.push(dir);
    const out = path.join(dir, 'out');
    writeDirAtomic(out, { 'a.txt': 'one' });
    writeDirAtomic(out, { 'b.txt': 'two', 'sub/c.txt': 'three' });
    expect(fs.readdirSync(out).sort()).toEqual(['b.txt', 'sub']);
    // a file name that cannot be created (a directory path used as a file) makes the write fail
    expect(() => writeDirAtomic(path.join(dir, 'bad'), { 'x/y': 'ok', x: 'clash' })).toThrow();
    expect(fs.readdirSync(dir).sort()).toEqual(['out']);
  });
});
