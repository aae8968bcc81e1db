#!/usr/bin/env node
/**
 * npm run firmware: the shipped reference model, exported to C (int8), built for Cortex-M4
 * (QEMU mps2-an386) and classifying Fashion-MNIST test images inside QEMU, once running every
 * layer and once with early exits. Prints the accuracy of the firmware's own predictions,
 * executed instructions per inference (QEMU instruction count, not cycles), flash (code and
 * weights), SRAM (static + arena) and the stack high-water mark.
 *
 *   node firmware.mjs [--count 1000] [--from 0] [--out <dir>] [--target cortex-m4] [--timeout 900]
 *
 * --from 5000 --count 5000: the test images the shipped exit thresholds were not tuned on.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    from: { type: 'string', default: '0' },
    out: { type: 'string', default: path.join(HERE, 'build', 'export') },
    target: { type: 'string', default: 'cortex-m4' },
    timeout: { type: 'string', default: '900' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('node firmware.mjs [--count 1000] [--from 0] [--out <dir>] [--target cortex-m4] [--timeout <s>]');
  process.exit(0);
}
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) {
  console.error(`firmware: --count: expected a positive integer, got '${values.count}'`);
  process.exit(2);
}
const from = Number(values.from);
if (!Number.isInteger(from) || from < 0) {
  console.error(`firmware: --from: expected an integer >= 0, got '${values.from}'`);
  process.exit(2);
}

const { CORTEX_M_INSTALL, CORTEX_M_TARGET_INFO, missingCortexMTools, verifyCortexM } = await import('@tinyblocks/verify');
const info = CORTEX_M_TARGET_INFO[values.target];
if (!info) {
  console.error(`firmware: --target: expected one of ${Object.keys(CORTEX_M_TARGET_INFO).join(', ')}, got '${values.target}'`);
  process.exit(2);
}

// ---- 0. the toolchain, before anything slow
const missing = missingCortexMTools();
if (missing.length > 0) {
  console.error(`firmware: missing ${missing.join(', ')}: the Arm toolchain and QEMU are needed to build and run the firmware.`);
  console.error(`Install them (Debian/Ubuntu, about 1 GB): sudo apt-get update && sudo ${CORTEX_M_INSTALL}`);
  console.error('(macOS: brew install --cask gcc-arm-embedded && brew install qemu)');
  process.exit(1);
}

const t0 = performance.now();
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const { initBackend } = await import('@tinyblocks/core');
const { loadModel } = await import('@tinyblocks/core/node');
const { loadFashionMnist } = await import('@tinyblocks/datasets');
const { defaultExitThreshold, imageCodes, modelInfo, quantizeWithImages, shippedModelDir } = await import('@tinyblocks/models');
const { generateC, writeExport } = await import('@tinyblocks/export-c');

// ---- 1. export the shipped model (as `tinyblocks export`: percentile calibration on 500 subset images)
await initBackend('wasm');
const modelDir = shippedModelDir();
const model = await loadModel(modelDir);
const modelMeta = modelInfo(model);
const calib = loadFashionMnist({ split: 'train', source: 'subset' });
const exitThreshold = defaultExitThreshold(modelMeta); // as tinyblocks export: the model's tuned thresholds
const graph = quantizeWithImages(model, calib, { calibCount: 500, outputRoles: modelMeta.outputRoles, name: 'reference', exitThreshold });
const generated = generateC(graph);
const outDir = writeExport(values.out, generated);
const totals = generated.report.totals;

// ---- 2. test images: the full test set when installed, else the shipped subset
let test;
try {
  test = loadFashionMnist({ split: 'test', source: 'full', limit: from + count });
} catch {
  test = loadFashionMnist({ split: 'test', source: 'subset', limit: from + count });
}
const n = Math.max(0, Math.min(count, test.count - from));
if (n === 0) {
  console.error(`firmware: --from: expected an index below the ${test.count} test images, got ${from}`);
  process.exit(2);
}
const indices = Array.from({ length: n }, (_, i) => from + i);
const inputs = indices.map((i) => imageCodes(graph, test, i));

// ---- 3. build for the target and run every image inside QEMU: every layer, then with early exits
// (in chunks of 2,000 images: the test vectors live in flash next to the model)
const tExport = performance.now();
const CHUNK = 2000;
async function runAll(exits) {
  const all = { predictions: [], exitsTaken: [], perFrame: [], exact: 0, firstMismatch: undefined, first: undefined, build: 0, qemu: 0 };
  for (let s = 0; s < n; s += CHUNK) {
    const r = await verifyCortexM(outDir, inputs.slice(s, s + CHUNK), { target: values.target, predictionsOnly: true, exits, sizeAtOs: false, timeoutSeconds: Number(values.timeout) });
    all.first ??= r;
    all.predictions.push(...r.predictions);
    all.exitsTaken.push(...(r.exitsTaken ?? []));
    all.perFrame.push(...r.instructions.perFrame);
    all.exact += r.exact;
    if (r.firstMismatch && !all.firstMismatch) all.firstMismatch = { ...r.firstMismatch, frame: r.firstMismatch.frame + s };
    all.build += r.seconds.build;
    all.qemu += r.seconds.qemu;
  }
  all.accuracy = all.predictions.filter((p, i) => p === test.labels[indices[i]]).length / n;
  all.instructions = all.perFrame.reduce((a, v) => a + v, 0) / n;
  return all;
}
const full = await runAll(false);
const early = await runAll(true);
const r = full.first;
const perFrame = full.perFrame;
const correct = full.predictions.filter((p, i) => p === test.labels[indices[i]]).length;
const code = r.flash.modelCodeBytes;
const arena = r.ram.arenaBytes ?? totals.arenaBytes;
const setName = test.source === 'full' ? 'Fashion-MNIST test set' : 'shipped Fashion-MNIST test subset (install dataset-fashion-mnist for the full set)';
const exitCount = graph.outputs.filter((o) => o.role === 'exit').length;
const perHead = Array.from({ length: exitCount + 1 }, (_, h) => early.exitsTaken.filter((e) => (h === exitCount ? e === -1 : e === h)).length);
const thresholds = [graph.meta.exitThreshold].flat().join(', ');
const range = from === 0 ? `${n.toLocaleString('en-US')} images` : `${n.toLocaleString('en-US')} images (${from}-${from + n - 1})`;

console.log(`firmware: the shipped ${modelMeta.arch} model (${path.basename(modelDir)}), int8, exported to ${outDir} (${Object.keys(generated.files).length} files)`);
console.log(`target: ${r.target} on QEMU ${r.machine}, arm-none-eabi-gcc -O2; ${range} of the ${setName}`);
console.log(`accuracy: ${(correct / n).toFixed(4)} (${correct.toLocaleString('en-US')}/${n.toLocaleString('en-US')}, the firmware's predictions vs the labels)`);
console.log(`bit-exact with the TypeScript int8 reference: ${full.exact.toLocaleString('en-US')}/${n.toLocaleString('en-US')} images (logits); with early exits ${early.exact.toLocaleString('en-US')}/${n.toLocaleString('en-US')} (logits and the head that answered)`);
console.log(
  `instructions per inference: ${fmt(full.instructions)} executed instructions (not cycles; min ${fmt(Math.min(...perFrame))}, max ${fmt(Math.max(...perFrame))}; ${(full.instructions / totals.macs).toFixed(2)} per MAC, ${fmt(totals.macs)} MACs)`,
);
console.log(
  `early exit (thresholds ${thresholds}): accuracy ${early.accuracy.toFixed(4)} (${((early.accuracy - full.accuracy) * 100).toFixed(2)} pp), ${fmt(early.instructions)} instructions per inference (${((1 - early.instructions / full.instructions) * 100).toFixed(1)}% fewer; max ${fmt(Math.max(...early.perFrame))}), answered by ${perHead.map((c, h) => `${h === exitCount ? 'final' : `exit${h + 1}`} ${c}`).join(', ')}`,
);
console.log(`flash: code ${fmt(code)} B (model and kernels; whole firmware ${fmt(r.flash.codeBytes)} B with startup, harness and libc), weights ${fmt(r.flash.modelDataBytes)} B (constant data; report.json ${fmt(totals.flashDataBytes)} B)`);
console.log(
  `SRAM: ${fmt(r.ram.modelStaticBytes)} B static for the model (arena ${fmt(arena)} B + stream state ${fmt(totals.stateBytes)} B${r.ram.modelStaticBytes - arena - totals.stateBytes > 0 ? ` + ${fmt(r.ram.modelStaticBytes - arena - totals.stateBytes)} B other` : ''}); whole firmware .data + .bss ${fmt(r.ram.staticBytes)} B`,
);
console.log(`stack high-water mark: ${fmt(r.ram.stackBytes)} B (${fmt(r.ram.inferenceStackBytes)} B below main's frame, the inference calls)`);
console.log(`time: export ${((tExport - t0) / 1000).toFixed(1)} s, build ${(full.build + early.build).toFixed(1)} s, QEMU ${(full.qemu + early.qemu).toFixed(1)} s`);
for (const [what, run] of [['', full], [' with early exits', early]]) {
  if (run.exact !== n) {
    const m = run.firstMismatch;
    console.error(`firmware: the C results${what} differ from the TypeScript reference on ${n - run.exact} images (first: image ${from + (m?.frame ?? 0)}, ${m?.field} byte ${m?.byte}: C ${m?.c} vs TS ${m?.ts})`);
    process.exitCode = 1;
  }
}
