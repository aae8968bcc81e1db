// Fuzz worker (plain JS on the built packages, so it runs in its own process and a hang can be
// killed): loads each case folder as every tinyblocks command does (loadModel: the checks, then
// tfjs; modelInfo: the metadata), runs it on fixed inputs and compares every output with the
// original model's. Protocol: argv[2] the original model folder, argv[3] a file listing case
// folders; one JSON line on stdout per event: {start: i} before case i, then its result.
// With argv[4] 'export', the folders are C exports read as verify reads them (readModelDir: the
// manifest, the int8 graph checked) and run on the TypeScript integer reference.
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, TinyblocksError } from '@tinyblocks/core';
import { loadModel } from '@tinyblocks/core/node';
import { runGraph, tensorSize } from '@tinyblocks/int8';
import { modelInfo } from '@tinyblocks/models';
import { readModelDir } from '@tinyblocks/verify';

const [original, listFile, mode = 'model'] = process.argv.slice(2);
const cases = fs.readFileSync(listFile, 'utf8').split('\n').filter(Boolean);
await initBackend('cpu');

function outputs(model) {
  const info = modelInfo(model);
  const x = tf.tidy(() => tf.randomUniform([2, ...info.inputShape], 0, 1, 'float32', 3));
  const ys = [model.predict(x)].flat();
  const values = ys.map((y) => Array.from(y.dataSync()));
  tf.dispose([x, ...ys]);
  return { values, roles: info.outputRoles.join(',') };
}

function graphOutputs(dir) {
  const { graph } = readModelDir(dir);
  const x = new Int8Array(tensorSize(graph.tensors[graph.input])).map((_, i) => (i * 37) % 256 - 128);
  const r = runGraph(graph, x);
  return { values: [Array.from(r.logits), ...r.outputs.map((o) => Array.from(o ?? []))], roles: graph.outputs.map((o) => o.role).join(',') };
}
const load = mode === 'export' ? async (d) => ({ got: graphOutputs(d), dispose() {} }) : async (d) => {
  const m = await loadModel(d);
  return { got: outputs(m), dispose: () => m.dispose() };
};
const reference = (await load(original)).got;
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
for (let i = 0; i < cases.length; i++) {
  say({ start: i });
  const t0 = performance.now();
  let status;
  let message = '';
  try {
    const { got, dispose } = await load(cases[i]);
    dispose();
    const same = got.roles === reference.roles && got.values.length === reference.values.length &&
      got.values.every((v, k) => v.length === reference.values[k].length && v.every((x, j) => Object.is(x, reference.values[k][j])));
    status = same ? 'same' : 'different';
  } catch (err) {
    status = err instanceof TinyblocksError ? 'typed' : 'untyped';
    message = String(err?.message ?? err).split('\n')[0].slice(0, 300);
  }
  say({ done: i, status, message, ms: Math.round(performance.now() - t0) });
}
