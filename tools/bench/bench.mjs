// npm run bench — every figure is a ratio against a baseline measured in this same run.
//  1. The reference model on cpu vs wasm: forward images/s at batch 1 and 64, training images/s.
//  2. Each block's forward time relative to tf.relu on the same tensor (wasm and cpu), with the
//     number of kernel dispatches, which is what bounds a chain of small elementwise ops.
//  3. int8: float vs int8 accuracy, flash and peak SRAM of the export, host C inferences/s vs
//     tfjs-wasm float at batch 1.
//  4. Cortex-M4 in QEMU: executed instructions per inference (early exit on / off), per MAC, the
//     delta layer's MACs on a moving stream vs dense, the model's code size.
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

// ---- 3. int8: accuracy float vs int8, flash and SRAM, host C inferences/s vs tfjs-wasm float
{
  const { loadModel } = await import('@tinyblocks/core/node');
  const { defaultExitThreshold, evaluate, evaluateInt8, imageBatch, imageCodes, modelInfo, quantizeWithImages, shippedModelDir } = await import('@tinyblocks/models');
  const { generateC, writeExport } = await import('@tinyblocks/export-c');
  const { benchHost } = await import('@tinyblocks/verify');
  const os = await import('node:os');
  const path = await import('node:path');
  const fs = await import('node:fs');
  await initBackend('wasm');
  const model = await loadModel(shippedModelDir());
  const info = modelInfo(model);
  let test;
  try {
    test = QUICK ? loadFashionMnist({ split: 'test', source: 'subset' }) : loadFashionMnist({ split: 'test', source: 'full' });
  } catch {
    test = loadFashionMnist({ split: 'test', source: 'subset' });
  }
  const graph = quantizeWithImages(model, data, { outputRoles: info.outputRoles, exitThreshold: defaultExitThreshold(info) });
  const float = evaluate(model, info, test);
  const int8 = evaluateInt8(graph, test);
  const generated = generateC(graph);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyblocks-bench-'));
  try {
    writeExport(path.join(dir, 'c'), generated);
    const inputs = Array.from({ length: 64 }, (_, i) => imageCodes(graph, test, i));
    const host = await benchHost(path.join(dir, 'c'), inputs, { iterations: QUICK ? 200 : 2000 });
    const one = imageBatch(test.images, [0]);
    const wasm1 = 1 / timeIt(() => tf.tidy(() => { model.predict(one)[0].dataSync(); }));
    one.dispose();
    const t = generated.report.totals;
    const p = generated.report.plan;
    console.log(`\n## int8 (tinyblocks export of the shipped model; accuracy on ${test.count} ${test.source === 'full' ? 'Fashion-MNIST test' : 'shipped subset test'} images)\n`);
    console.log(table(['measure', 'value', 'baseline (same run)', 'ratio'], [
      ['accuracy, int8 (TS integer reference = C bytes)', int8.accuracy.toFixed(4), `float ${float.accuracy.toFixed(4)}`, `${((int8.accuracy - float.accuracy) * 100).toFixed(2)} pp`],
      ['flash: weights, biases, multipliers, tables', `${t.flashDataBytes.toLocaleString('en-US')} B`, `float32 weights ${(model.countParams() * 4).toLocaleString('en-US')} B`, `${(t.flashDataBytes / (model.countParams() * 4)).toFixed(3)}x`],
      ['peak SRAM: arena + stream state', `${(t.arenaBytes + t.stateBytes).toLocaleString('en-US')} B`, `greedy-by-size arena ${p.greedyBySize.toLocaleString('en-US')} B`, `arena ${p.ratio.toFixed(3)}x`],
      [`inferences/s, batch 1: host C (${host.flags.join(' ')})`, Math.round(host.inferencesPerSecond).toLocaleString('en-US'), `tfjs-wasm float ${Math.round(wasm1).toLocaleString('en-US')}`, `${(host.inferencesPerSecond / wasm1).toFixed(1)}x`],
    ]));
    const drop = (float.accuracy - int8.accuracy) * 100;
    console.log(`target: int8 within 0.5 pp of float: ${drop <= 0.5 ? 'met' : 'MISSED'} (${drop.toFixed(2)} pp); arena <= greedy-by-size: ${p.arenaSize <= p.greedyBySize ? 'met' : 'MISSED'}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 4. Cortex-M4 (emulated in QEMU; a TCG plugin counts executed instructions, not cycles)
{
  const { benchKernelsCortexM, formatKernelBench, missingCortexMTools, verifyCortexM, CORTEX_M_INSTALL } = await import('@tinyblocks/verify');
  const missing = missingCortexMTools();
  if (missing.length > 0) {
    console.log(`\n## Cortex-M4: skipped (${missing.join(', ')} not found; ${CORTEX_M_INSTALL})`);
  } else {
    const { loadModel } = await import('@tinyblocks/core/node');
    const { defaultExitThreshold, imageCodes, modelInfo, quantizeWithImages, shippedModelDir } = await import('@tinyblocks/models');
    const { generateC, writeExport } = await import('@tinyblocks/export-c');
    const { createStream } = await import('@tinyblocks/int8');
    const { movingFashionMnist } = await import('@tinyblocks/datasets');
    const os = await import('node:os');
    const path = await import('node:path');
    const fs = await import('node:fs');
    await initBackend('wasm');
    const model = await loadModel(shippedModelDir());
    const graph = quantizeWithImages(model, data, { outputRoles: modelInfo(model).outputRoles, exitThreshold: defaultExitThreshold(modelInfo(model)) });
    const test = loadFashionMnist({ split: 'test', source: 'subset' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyblocks-bench-m4-'));
    try {
      writeExport(path.join(dir, 'c'), generateC(graph));
      const frames = Array.from({ length: QUICK ? 20 : 100 }, (_, i) => imageCodes(graph, test, i));
      const m4 = await verifyCortexM(path.join(dir, 'c'), frames, { target: 'cortex-m4' });
      const macs = generateC(graph).report.totals.macs;
      // the delta layer on a moving Fashion-MNIST stream: MACs the TS reference (= the C code) executes
      const clip = movingFashionMnist({ image: test.images.subarray(0, 784), frames: 32, seed: 7 });
      const clipSet = { images: clip, labels: new Uint8Array(32), count: 32 };
      const at = graph.nodes.findIndex((n) => n.op === 'delta_dense');
      const stream = createStream(graph);
      let streamed = 0;
      let dense = 0;
      for (let t = 0; t < 32; t++) {
        const x = imageCodes(graph, clipSet, t);
        streamed += stream.run(x).nodeMacs[at];
        dense += graph.nodes[at].weights.length; // D * N MACs of a dense execution
      }
      console.log(`\n## Cortex-M4 (mps2-an386 in QEMU, -O2), the shipped model on ${m4.count} test images: ${m4.exact}/${m4.count} bit-exact\n`);
      console.log(table(['measure', 'value', 'baseline (same run)', 'ratio'], [
        ['instructions per inference, early exits on', Math.round(m4.instructions.exits).toLocaleString('en-US'), `exits off ${Math.round(m4.instructions.full).toLocaleString('en-US')}`, `${((1 - m4.instructions.exits / m4.instructions.full) * 100).toFixed(1)}% fewer`],
        ['instructions per MAC (whole model, exits off)', (m4.instructions.full / macs).toFixed(2), `${macs.toLocaleString('en-US')} MACs`, ''],
        ['delta layer MACs on a 32-frame moving stream', streamed.toLocaleString('en-US'), `dense ${dense.toLocaleString('en-US')}`, `${(dense / Math.max(streamed, 1)).toFixed(1)}x fewer`],
        ['model code at -Os (flash, without weights)', `${m4.flash.modelCodeBytesOs?.toLocaleString('en-US')} B`, 'target 8,192 B', `${((m4.flash.modelCodeBytesOs ?? 0) / 8192).toFixed(2)}x`],
      ]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    console.log('\n## Cortex-M4 kernels: executed instructions per MAC (portable C99 vs the DSP/SIMD path; CMSIS-NN measured under the same counting, from mcu.md)\n');
    console.log(formatKernelBench(await benchKernelsCortexM()));
    console.log('\n## Cortex-M55 kernels (mps3-an547): executed instructions per MAC (portable C99, the DSP path of a -DTB_MVE=0 build, the MVE / Helium path)\n');
    console.log(formatKernelBench(await benchKernelsCortexM({ target: 'cortex-m55' }), 'cortex-m55'));
  }
}
