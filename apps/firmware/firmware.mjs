#!/usr/bin/env node
/**
 * npm run firmware: the shipped reference model, exported to C (int8), built for Cortex-M4
 * (QEMU mps2-an386) and classifying Fashion-MNIST test images inside QEMU. Prints the accuracy of
 * the firmware's own predictions, executed instructions per inference (QEMU instruction count,
 * not cycles), flash (code and weights), SRAM (static + arena) and the stack high-water mark.
 *
 *   node firmware.mjs [--count 1000] [--out <dir>] [--target cortex-m4] [--timeout 600]
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    out: { type: 'string', default: path.join(HERE, 'build', 'reference') },
    target: { type: 'string', default: 'cortex-m4' },
    timeout: { type: 'string', default: '900' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('node firmware.mjs [--count 1000] [--out <dir>] [--target cortex-m4] [--timeout <s>]');
  process.exit(0);
}
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) {
  console.error(`firmware: --count: expected a positive integer, got '${values.count}'`);
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
const { imageCodes, modelInfo, quantizeWithImages, shippedModelDir } = await import('@tinyblocks/models');
const { generateC, writeExport } = await import('@tinyblocks/export-c');

// ---- 1. export the shipped model (as `tinyblocks export`: percentile calibration on 500 subset images)
await initBackend('wasm');
const modelDir = shippedModelDir();
const model = await loadModel(modelDir);
const modelMeta = modelInfo(model);
const calib = loadFashionMnist({ split: 'train', source: 'subset' });
const graph = quantizeWithImages(model, calib, { calibCount: 500, outputRoles: modelMeta.outputRoles, name: 'reference' });
const generated = generateC(graph);
const outDir = writeExport(values.out, generated);
const totals = generated.report.totals;

// ---- 2. test images: the full test set when installed, else the shipped subset
let test;
try {
  test = loadFashionMnist({ split: 'test', source: 'full', limit: count });
} catch {
  test = loadFashionMnist({ split: 'test', source: 'subset', limit: count });
}
const n = Math.min(count, test.count);
const inputs = Array.from({ length: n }, (_, i) => imageCodes(graph, test, i));

// ---- 3. build for the target and run every image inside QEMU
const tExport = performance.now();
const r = await verifyCortexM(outDir, inputs, { target: values.target, predictionsOnly: true, sizeAtOs: false, timeoutSeconds: Number(values.timeout) });
let correct = 0;
r.predictions.forEach((p, i) => {
  if (p === test.labels[i]) correct++;
});
const perFrame = r.instructions.perFrame;
const code = r.flash.modelCodeBytes;
const arena = r.ram.arenaBytes ?? totals.arenaBytes;
const setName = test.source === 'full' ? 'Fashion-MNIST test set' : 'shipped Fashion-MNIST test subset (install dataset-fashion-mnist for the full set)';

console.log(`firmware: the shipped ${modelMeta.arch} model (${path.basename(modelDir)}), int8, exported to ${outDir} (${Object.keys(generated.files).length} files)`);
console.log(`target: ${r.target} on QEMU ${r.machine}, arm-none-eabi-gcc -O2; ${n.toLocaleString('en-US')} images of the ${setName}`);
console.log(`accuracy: ${(correct / n).toFixed(4)} (${correct.toLocaleString('en-US')}/${n.toLocaleString('en-US')}, the firmware's predictions vs the labels)`);
console.log(`bit-exact with the TypeScript int8 reference: ${r.exact.toLocaleString('en-US')}/${n.toLocaleString('en-US')} images (logits)`);
console.log(
  `instructions per inference: ${fmt(r.instructions.full)} executed instructions (not cycles; min ${fmt(Math.min(...perFrame))}, max ${fmt(Math.max(...perFrame))}; ${(r.instructions.full / totals.macs).toFixed(2)} per MAC, ${fmt(totals.macs)} MACs)`,
);
console.log(`flash: code ${fmt(code)} B (model and kernels; whole firmware ${fmt(r.flash.codeBytes)} B with startup, harness and libc), weights ${fmt(r.flash.modelDataBytes)} B (constant data; report.json ${fmt(totals.flashDataBytes)} B)`);
console.log(
  `SRAM: ${fmt(r.ram.modelStaticBytes)} B static for the model (arena ${fmt(arena)} B + stream state ${fmt(totals.stateBytes)} B${r.ram.modelStaticBytes - arena - totals.stateBytes > 0 ? ` + ${fmt(r.ram.modelStaticBytes - arena - totals.stateBytes)} B other` : ''}); whole firmware .data + .bss ${fmt(r.ram.staticBytes)} B`,
);
console.log(`stack high-water mark: ${fmt(r.ram.stackBytes)} B (${fmt(r.ram.inferenceStackBytes)} B below main's frame, the inference calls)`);
console.log(`time: export ${((tExport - t0) / 1000).toFixed(1)} s, build ${r.seconds.build.toFixed(1)} s, QEMU ${r.seconds.qemu.toFixed(1)} s`);
if (r.exact !== n) {
  const m = r.firstMismatch;
  console.error(`firmware: the C logits differ from the TypeScript reference on ${n - r.exact} images (first: image ${m?.frame}, byte ${m?.byte}: C ${m?.c} vs TS ${m?.ts})`);
  process.exit(1);
}
