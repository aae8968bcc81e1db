import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { countModel } from './count.js';
import { BackendError, ConfigError } from './errors.js';
import { modelGraph, runGraph } from './graph.js';
import { Rng } from './rng.js';
import { requireOneOf, requirePositive, requireRank } from './validate.js';

const pkgDir = path.resolve(import.meta.dirname, '..');

describe('plain Node (outside vitest) gets gradients from tfjs-core + a backend', () => {
  const built = fs.existsSync(path.join(pkgDir, 'dist/index.js'));
  const script = (mod: 'esm' | 'cjs') => {
    const imp = mod === 'esm'
      ? "const tf = await import('@tensorflow/tfjs-core'); const core = await import('@tinyblocks/core');"
      : "const tf = require('@tensorflow/tfjs-core'); const core = require('@tinyblocks/core');";
    const body = `
      await core.initBackend('wasm');
      const g = tf.grad((x) => tf.sum(tf.div(tf.conv2d(x, tf.ones([3, 3, 1, 2]), 2, 'same'), tf.scalar(2))))(tf.ones([1, 4, 4, 1]));
      console.log(JSON.stringify({ backend: tf.getBackend(), grad: Array.from(g.dataSync()) }));`;
    return mod === 'esm' ? `${imp}${body}` : `(async () => { ${imp}${body} })();`;
  };
  it.runIf(built).each(['esm', 'cjs'] as const)('%s', (mod) => {
    const file = path.join(pkgDir, `.plain-node-test.${mod === 'esm' ? 'mjs' : 'cjs'}`);
    fs.writeFileSync(file, script(mod));
    try {
      const out = JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' }).trim().split('\n').pop()!);
      expect(out.backend).toBe('wasm');
      // 'same' stride 2 pads bottom/right: rows (and cols) 0,1,3 feed one output, row 2 feeds two;
      // x 2 filters / 2
      expect(out.grad).toEqual([1, 1, 2, 1, 1, 1, 2, 1, 2, 2, 4, 2, 1, 1, 2, 1]);
    } finally {
      fs.rmSync(file);
    }
  });
});

describe('Rng', () => {
  it('repeats for a seed and differs across seeds', () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43);
    const sa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(sa);
    const r = new Rng(1);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(new Rng(5).shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('validation errors', () => {
  it('name the layer, field, expected and got', () => {
    const where = { layer: "Delta 'd1'" };
    expect(() => requirePositive(where, 'thresholdInit', -1)).toThrow("Delta 'd1': thresholdInit: expected a number > 0, got -1");
    expect(() => requireOneOf(where, 'rule', 'fast', ['confidence', 'entropy'])).toThrow(
      `Delta 'd1': rule: expected one of 'confidence', 'entropy', got "fast"`,
    );
    expect(() => requireRank(where, 'input', [null, 3], [4])).toThrow(`Delta 'd1': input: expected rank 4, got "rank 2 (shape [?, 3])"`);
    expect(() => requirePositive(where, 'x', 'a')).toThrow(ConfigError);
  });

  it('initBackend refuses an unknown backend instead of falling back', async () => {
    await expect(initBackend('webgl' as never)).rejects.toThrow(BackendError);
  });
});

describe('modelGraph, runGraph and countModel', () => {
  it('count conv, depthwise and dense MACs and run node by node with an early stop', async () => {
    await initBackend('cpu');
    const input = tfl.input({ shape: [8, 8, 2] });
    const c = tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'c' }).apply(input);
    const d = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }).apply(c);
    const f = tfl.layers.flatten({ name: 'f' }).apply(d);
    const out = tfl.layers.dense({ units: 5, name: 'fc' }).apply(f) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const counts = countModel(model);
    expect(counts.layers.map((l) => [l.name, l.macs])).toEqual([
      ['c', 4 * 4 * 4 * 3 * 3 * 2],
      ['dw', 4 * 4 * 4 * 3 * 3],
      ['f', 0],
      ['fc', 64 * 5],
    ]);
    expect(counts.totalParams).toBe(model.countParams());

    const graph = modelGraph(model);
    const x = tf.randomUniform([3, 8, 8, 2], 0, 1, 'float32', 1);
    const all = runGraph(graph, x);
    expect(Array.from(all.get(graph.outputs[0]!)!.dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
    const seen: string[] = [];
    const partial = runGraph(graph, x, { stopAfter: (n) => (seen.push(n.layer.name), n.layer.name === 'dw') });
    expect(seen).toEqual(['c', 'dw']);
    expect(partial.has(graph.outputs[0]!)).toBe(false);
  });
});
