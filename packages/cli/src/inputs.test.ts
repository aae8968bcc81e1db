/**
 * Any input shape, the user's data: a 32x32x3 model through export and verify with random inputs
 * and .npy files; Fashion-MNIST for it, a .npy of the wrong shape and constant data are typed
 * errors before any calibration.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@tinyblocks/core';
import { Rng } from '@tinyblocks/core/base';
import { saveModel } from '@tinyblocks/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, SKIP_C, testDir } from './test-cli.js';

const tmp = testDir('tinyblocks-inputs-');

/** A .npy file (format 1.0, C order). */
function writeNpy(file: string, descr: '<f4' | '|u1', shape: number[], data: Float32Array | Uint8Array): void {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

const modelDir = path.join(tmp, 'rgb32');
const rng = new Rng(4);
const size = 32 * 32 * 3;

beforeAll(async () => {
  await initBackend('cpu');
  const input = tfl.input({ shape: [32, 32, 3], name: 'rgb' });
  let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ name: 'mp', poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ name: 'c2', filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const y = tfl.layers.dense({ name: 'fc', units: 5, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }).apply(x) as tfl.SymbolicTensor;
  await saveModel(tfl.model({ inputs: input, outputs: y, name: 'rgb32' }), modelDir);
  writeNpy(path.join(tmp, 'f32.npy'), '<f4', [40, 32, 32, 3], Float32Array.from({ length: 40 * size }, () => rng.next()));
  writeNpy(path.join(tmp, 'u8.npy'), '|u1', [40, 32, 32, 3], Uint8Array.from({ length: 40 * size }, () => rng.int(256)));
  writeNpy(path.join(tmp, 'wrong.npy'), '<f4', [4, 28, 28, 3], new Float32Array(4 * 28 * 28 * 3));
  writeNpy(path.join(tmp, 'flat.npy'), '<f4', [40, 32, 32, 3], new Float32Array(40 * size).fill(0.5));
});

describe('a 32x32x3 model: the input shape drives the data', () => {
  it('Fashion-MNIST for it, a .npy of another shape, constant data: exit 2 before calibration, nothing written', async () => {
    for (const [calib, message] of [
      [undefined, /--calib: expected data shaped like the model input \[N, 32, 32, 3\], got "Fashion-MNIST images \[N, 28, 28, 1\]" \(pass --calib random/],
      [path.join(tmp, 'wrong.npy'), /wrong\.npy: --calib: expected samples shaped like the model input \[N, 32, 32, 3\], got "\[4, 28, 28, 3\]"/],
      [path.join(tmp, 'flat.npy'), /calibration data \(flat\.npy\): value range: expected samples that vary/],
    ] as const) {
      const out = path.join(tmp, `refused-${path.basename(calib ?? 'none')}`);
      const t0 = performance.now();
      const r = await cli('export', modelDir, '--out', out, ...(calib ? ['--calib', calib] : []));
      expect(r.err).toMatch(message);
      expect(r.code).toBe(2);
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(fs.existsSync(out)).toBe(false);
    }
  });

  it.skipIf(SKIP_C)('exports on random, float32 and uint8 .npy data, and verifies bit-exact with float agreement', async () => {
    for (const calib of ['random', path.join(tmp, 'f32.npy'), path.join(tmp, 'u8.npy')]) {
      const out = path.join(tmp, `c-${path.basename(calib)}`);
      const e = await cli('export', modelDir, '--out', out, '--calib', calib, '--calib-count', '40');
      expect(e.code, e.err).toBe(0);
      expect(e.out).toMatch(/calibration on 40 /);
      expect(e.out).toMatch(/float agreement: \d+\/40 top-1/);
      const v = await cli('verify', out, '--data', calib === 'random' ? 'random:7' : calib, '--count', '20');
      const [bitExact, agreement] = v.out.trim().split('\n').slice(-2);
      expect(bitExact).toBe('verify host: 20/20 bit-exact');
      expect(agreement).toMatch(/^float agreement: (1[89]|20)\/20 top-1, worst layer \w+ \d+\.\d dB$/);
      expect(v.code).toBe(0);
    }
    const none = await cli('verify', path.join(tmp, 'c-random'), '--count', '5');
    expect(none.err).toMatch(/--data: expected data shaped like the model input \[N, 32, 32, 3\]/);
    expect(none.code).toBe(2);
  }, 300_000);
});
