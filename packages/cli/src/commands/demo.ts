import * as os from 'node:os';
import * as path from 'node:path';
import { countModel, initBackend } from '@tinyblocks/core';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from '@tinyblocks/datasets';
import { EXPORT_KIND, generateC, writeExport } from '@tinyblocks/export-c';
import { defaultExitThreshold, evaluate, evaluateInt8, imageCodes, modelInfo, quantizeWithImages, shippedModelDir } from '@tinyblocks/models';
import { CORTEX_M_INSTALL, missingCortexMTools, VerifyError, verifyCortexM, verifyHost } from '@tinyblocks/verify';
import { intOption, parse } from '../args.js';
import { loadUserModel, outFolder, print, type Io } from '../io.js';
import { deltaStreamReport, earlyExitReport, int8DeltaStreamReport, int8EarlyExitReport, int8InterventionReport, interventionReport, layerTable } from '../reports.js';
import { exportTotals } from './export.js';

export const DEMO_HELP = `tinyblocks demo [--out <dir>] [--count N]
  the shipped reference model on the shipped Fashion-MNIST subset (no download): layers, accuracy,
  early exits, a concept intervention and the delta layer on a moving stream; then the same model
  in int8 (post-training quantization), exported as C and verified bit-exact on this machine
  --out     where the C code goes (default: <tmp>/tinyblocks-demo/export; new, empty or a previous export)
  --count   test images compiled C is verified on (default 200)
  With arm-none-eabi-gcc and qemu-system-arm installed it also runs the firmware on an emulated
  Cortex-M4 (20 images) and reports flash, RAM, stack and executed instructions.`;

export async function demo(argv: string[], io: Io): Promise<number> {
  const { values } = parse('demo', argv, { out: { type: 'string' }, count: { type: 'string' } });
  const outDir = values.out ?? path.join(os.tmpdir(), 'tinyblocks-demo', 'export');
  const count = intOption('demo', 'count', values.count, 200, 1, 10_000);
  outFolder('demo', { out: outDir }, EXPORT_KIND); // refused before any work when it is not ours
  await initBackend('wasm');
  const dir = shippedModelDir();
  const model = await loadUserModel(dir, io);
  const info = modelInfo(model);
  const set = loadFashionMnist({ split: 'test', source: 'subset' });
  print(io, `tinyblocks demo: the shipped ${info.arch} model (${dir}), backend wasm`, '', layerTable(countModel(model)), '');
  const result = evaluate(model, info, set);
  print(io, `accuracy on the ${set.count} shipped test images (the full test set: tinyblocks eval ${dir} --data test)`);
  for (const h of result.heads) print(io, `  ${h.name.padEnd(8)} ${h.role.padEnd(6)} ${h.accuracy.toFixed(4)}`);
  print(io, '', earlyExitReport(model, set, info.exitThresholds), '');
  // a sneaker: assert it covers the ankle and is closed, and the prediction follows to Ankle boot
  const sneaker = set.labels.indexOf(FASHION_MNIST_CLASSES.indexOf('Sneaker'));
  const overwrite = { 'high top': 1, open: 0 } as const;
  print(io, interventionReport(model, set, sneaker, overwrite), '');
  print(io, deltaStreamReport(model, set, sneaker), '');

  // ---- int8: quantize, measure with the TS integer reference, export C, verify on the host
  print(io, '== int8: post-training quantization (percentile calibration on 500 shipped training images)');
  const graph = quantizeWithImages(model, loadFashionMnist({ split: 'train', source: 'subset' }), { outputRoles: info.outputRoles, exitThreshold: defaultExitThreshold(info) });
  const threshold = [graph.meta['exitThreshold']].flat().join(', ');
  const q = evaluateInt8(graph, set, { exits: true });
  print(io, `int8 accuracy on the ${set.count} shipped test images (TypeScript integer reference = the C code's bytes)`);
  for (const h of q.heads) print(io, `  ${h.name.padEnd(8)} ${h.role.padEnd(6)} ${h.accuracy.toFixed(4)}`);
  print(io, '', int8EarlyExitReport(q, threshold), int8InterventionReport(graph, set, sneaker, overwrite), int8DeltaStreamReport(graph, set, sneaker), '');

  const generated = generateC(graph);
  writeExport(outDir, generated);
  print(io, `== C code: ${Object.keys(generated.files).length} files in ${outDir} (tinyblocks export ${dir} --out <dir> writes them anywhere)`, ...exportTotals(generated.report), '');

  let verifyLine: string;
  try {
    const inputs = Array.from({ length: Math.min(count, set.count) }, (_, i) => imageCodes(graph, set, i));
    const v = await verifyHost(outDir, inputs);
    print(io, `== compiled with the host C compiler (${v.builds.join(', ')}), ran ${v.count} test images in 4 modes (${v.modes.join(', ')})`);
    verifyLine = `verify host: ${v.exact}/${v.count} bit-exact`;
  } catch (e) {
    if (!(e instanceof VerifyError)) throw e;
    print(io, `== C verification skipped: ${e.message}`);
    verifyLine = 'verify host: skipped (no C compiler; apt-get install gcc)';
  }
  // ---- the same C as firmware on an emulated Cortex-M4 (when the Arm toolchain and QEMU are installed)
  let mcuLine: string;
  const missing = missingCortexMTools();
  if (missing.length === 0) {
    const frames = Array.from({ length: 20 }, (_, i) => imageCodes(graph, set, i));
    const m = await verifyCortexM(outDir, frames, { target: 'cortex-m4' });
    const n = (v: number | null) => (v === null ? '-' : Math.round(v).toLocaleString('en-US'));
    print(io,
      `== firmware on emulated Cortex-M4 (qemu-system-arm -M mps2-an386), ${m.count} test images; a QEMU plugin counts executed instructions (not cycles)`,
      `  flash: model code ${n(m.flash.modelCodeBytesOs)} B at -Os (${n(m.flash.modelCodeBytes)} B at -O2), weights and tables ${n(m.flash.modelDataBytes)} B; RAM: arena ${n(m.ram.arenaBytes)} B, stack high-water mark ${n(m.ram.stackBytes)} B`,
      `  instructions per inference: ${n(m.instructions.full)} (${(m.instructions.full / generated.report.totals.macs).toFixed(1)} per MAC), with early exits ${n(m.instructions.exits)}`,
    );
    mcuLine = `verify cortex-m4: ${m.exact}/${m.count} bit-exact, ${n(m.instructions.full)} instructions/inference`;
  } else {
    print(io, `== firmware on emulated Cortex-M4 skipped: ${missing.join(', ')} not found; install with: ${CORTEX_M_INSTALL}`);
    mcuLine = `verify cortex-m4: skipped (${CORTEX_M_INSTALL})`;
  }
  print(io, '',
    `accuracy: float ${result.accuracy.toFixed(4)}, int8 ${q.accuracy.toFixed(4)} on ${set.count} images`,
    `sizes: flash ${generated.report.totals.flashDataBytes.toLocaleString('en-US')} bytes of weights and tables, peak SRAM ${(generated.report.totals.arenaBytes + generated.report.totals.stateBytes).toLocaleString('en-US')} bytes, ${generated.report.totals.macs.toLocaleString('en-US')} MACs per image`,
    verifyLine,
    mcuLine,
  );
  return 0;
}
