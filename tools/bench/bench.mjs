// npm run bench — every figure is a ratio against a baseline measured in this same run.
//  1. The reference model on cpu vs wasm: forward images/s at batch 1 and 64, training images/s.
//  2. Each block's forward time relative to tf.relu on the same tensor (wasm and cpu), with the
//     number of kernel dispatches, which is what bounds a chain of small elementwise ops.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tinyblocks/core';
import { crrelu } from '@tinyblocks/crrelu';
import { polyNorm, polyReLU } from '@tinyblocks/polycom';
import { evoNormB0, evoNormS0 } from '@tinyblocks/evonorm';
import { deltaQuantize } from '@tinyblocks/delta';
import { buildArchitecture, compositeLoss, disposeBatch, makeBatch, range } from '@tinyblocks/models';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { table } from '@tinyblocks/cli';

const QUICK = process.env.BENCH_QUICK === '1';

/** Calls fn repeatedly for about `seconds` (after a warm-up); returns seconds per call. */
function timeIt(fn, seconds = QUICK ? 0.3 : 1.5, minCalls = 3) {
  for (let i = 0; i < 2; i++) fn();
  let calls = 0;
  const start = performance.now();
  while (calls < minCalls || performance.now() - start < seconds * 1000) {
    fn();
    calls++;
  }
  return (performance.now() - start) / 1000 / calls;
}

const data = loadFashionMnist({ split: 'train', source: 'subset' });

function modelSpeed(backend) {
  const { model, info } = buildArchitecture('reference', 1);
  const one = makeBatch(data.images, data.labels, [0]);
  const b64 = makeBatch(data.images, data.labels, range(64));
  const fwd = (b) => () => tf.tidy(() => {
    const outs = model.predict(b.x);
    outs[0].dataSync();
  });
  const fwd1 = 1 / timeIt(fwd(one));
  const fwd64 = 64 / timeIt(fwd(b64));
  const opt = tf.train.adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.val);
  const step = () => tf.tidy(() => {
    opt.minimize(() => compositeLoss(model.apply(b64.x, { training: true }), info, b64, [0.3, 0.6], 0.5), false, vars);
    vars[0].dataSync();
  });
  const train64 = 64 / timeIt(step, QUICK ? 0.5 : 3, 2);
  disposeBatch(one);
  disposeBatch(b64);
  opt.dispose();
  model.dispose();
  return { fwd1, fwd64, train64 };
}

const speeds = {};
for (const backend of ['cpu', 'wasm']) {
  await initBackend(backend);
  speeds[backend] = modelSpeed(backend);
}
const fmt = (v) => Math.round(v);
console.log('\n## Reference model (tinyblocks train --arch reference), images/s, 2 cores\n');
console.log(table(['measure', 'cpu', 'wasm', 'wasm/cpu'], [
  ['forward, batch 1', fmt(speeds.cpu.fwd1), fmt(speeds.wasm.fwd1), `${(speeds.wasm.fwd1 / speeds.cpu.fwd1).toFixed(1)}x`],
  ['forward, batch 64', fmt(speeds.cpu.fwd64), fmt(speeds.wasm.fwd64), `${(speeds.wasm.fwd64 / speeds.cpu.fwd64).toFixed(1)}x`],
  ['training, batch 64', fmt(speeds.cpu.train64), fmt(speeds.wasm.train64), `${(speeds.wasm.train64 / speeds.cpu.train64).toFixed(1)}x`],
]));
const trainRatio = speeds.wasm.train64 / speeds.cpu.train64;
console.log(`target: training on wasm >= 10x cpu: ${trainRatio >= 10 ? 'met' : 'MISSED'} (${trainRatio.toFixed(1)}x)`);

// ---- 2. block forward cost vs relu
const SHAPE = [64, 14, 14, 32];
const C = SHAPE[3];
function blockOps() {
  const gamma = tf.ones([C]), beta = tf.zeros([C]), v = tf.ones([C]), variance = tf.ones([C]);
  const thr = tf.fill([C], 0.1);
  return {
    relu: { goal: null, fn: (x) => tf.relu(x) },
    CRReLU: { goal: 4, fn: (x) => crrelu(x, 0.01) },
    PolyReLU: { goal: 4, fn: (x) => polyReLU(x, [1 / 3, 1 / 3, 1 / 3], 0) },
    'Delta (quantize)': { goal: 4, fn: (x) => deltaQuantize(x, thr, { relu: true }) },
    PolyNorm: { goal: 8, fn: (x) => polyNorm(x, [1 / 3, 1 / 3, 1 / 3], 0) },
    'EvoNorm B0 (inference)': { goal: 8, fn: (x) => evoNormB0(x, gamma, beta, v, variance, { eps: 1e-5 }) },
    'EvoNorm S0': { goal: 8, fn: (x) => evoNormS0(x, gamma, beta, v, { groups: 8, eps: 1e-5 }) },
  };
}

for (const backend of ['wasm', 'cpu']) {
  await initBackend(backend);
  const x = tf.randomNormal(SHAPE, 0, 1, 'float32', 3);
  const ops = blockOps();
  const rows = [];
  let base = 0;
  const misses = [];
  for (const [name, { goal, fn }] of Object.entries(ops)) {
    // sync on a scalar: reading back a fresh 400k-value tensor costs ~100x the op on wasm
    const t = timeIt(() => tf.tidy(() => tf.sum(fn(x)).dataSync()));
    const prof = await tf.profile(() => tf.tidy(() => fn(x)));
    // tf.customGrad shows up as an 'unnamed scope' entry wrapping its kernels: not a kernel
    const kernels = prof.kernels.filter((k) => k.name !== 'unnamed scope');
    const dispatches = kernels.length;
    if (name === 'relu') base = t;
    const ratio = t / base;
    const verdict = goal === null ? 'baseline (timed with one tf.sum to sync)' : ratio <= goal ? `<= ${goal}x: met` : `<= ${goal}x: MISSED`;
    if (goal !== null && ratio > goal) {
      // what the time goes to: kernel dispatches, and the kernels that take the most of it
      const byKernel = new Map();
      for (const k of kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (Number(k.kernelTimeMs) || 0));
      const total = [...byKernel.values()].reduce((a, b) => a + b, 0) || 1;
      const top = [...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2)
        .map(([k, ms]) => `${k} ${Math.round((100 * ms) / total)}%`).join(', ');
      misses.push(`${name}: ${dispatches} kernel dispatches vs 1 for relu, each a full pass over the tensor; most time in ${top}`);
    }
    rows.push([name, (t * 1000).toFixed(3), `${ratio.toFixed(1)}x`, dispatches, verdict]);
  }
  console.log(`\n## Block forward cost on ${backend}, tensor [${SHAPE.join(', ')}] (${SHAPE.reduce((a, b) => a * b).toLocaleString('en-US')} values)\n`);
  console.log(table(['op', 'ms/call', 'vs relu', 'kernels', 'goal'], rows));
  if (misses.length) console.log(`what limits the missed goals:\n  ${misses.join('\n  ')}`);
}
