import * as path from 'node:path';
import { ConfigError, initBackend, type BackendName } from '@tinyblocks/core';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { EXPORT_KIND, generateC, writeExport, type ExportReport } from '@tinyblocks/export-c';
import { calibrationBatches, checkCalibrationValues, defaultExitThreshold, modelInfo, quantizeWithImages, type ImageSet } from '@tinyblocks/models';
import { checkAgainstFloat, type FloatCheck, OBSERVER_METHODS, quantizeModel } from '@tinyblocks/quantize';
import type { Int8Graph } from '@tinyblocks/int8';
import { inputBatches, loadInputs } from '../inputs.js';
import { boardPreset, type Budget, checkBudget, parseBytes, planArena } from '@tinyblocks/plan';
import { choiceOption, intOption, parse, thresholdsOption } from '../args.js';
import { keptLine, loadUserModel, outFolder, print, warn, type Io } from '../io.js';
import { ProgressBar } from '../progress.js';
import { floatCheckReport, MIN_AGREEMENT } from '../reports.js';
import { table } from '../table.js';

export const EXPORT_HELP = `tinyblocks export <model dir> --out <dir> [--name <name>] [--calib subset|train|<idx images file>]
  Quantizes a trained model to int8 (post-training quantization) and writes C99 code:
  <name>_model.h, <name>_model.c, <name>_model_data.c, the runtime kernels, <name>.int8.json
  (the int8 graph, for verify), report.json, and what you copy into your firmware: a Makefile,
  a CMakeLists.txt and a main.c example calling the API.
  --out             output directory: new, empty, or a previous export (updated; files you added
                    are kept; files of the export you changed make it stop, unless --force)
  --force           overwrite files of a previous export that you changed
  --name            C name prefix (default: the model's name)
  --calib           calibration data, shaped like the model input: subset (default, the
                    Fashion-MNIST subset shipped in @tinyblocks/datasets), train (the full
                    training set), an IDX images file, a .npy file (float32 as is, uint8 / 255;
                    [N, ...input]), or random[:seed] (uniform [0, 1), for a model without data)
  --calib-count     calibration images to use (default 500)
  --method          percentile | minmax (default percentile: each tail clipped at 99.99%)
  --equalize        on | off: outlier-channel equalization before calibration (default on)
  --check-count     images the int8 graph is compared with the float model on (default 200):
                    top-1 agreement, and per layer the SQNR and error in output steps
  --exit-threshold  softmax confidence an early-exit head needs to answer (default: the
                    model's tuned thresholds from tinyblocks retrain-exits, else 0.99);
                    one per head separated by commas, e.g. 0.93,0.99
  --backend         wasm | cpu for the float calibration run (default wasm)
  --board           stm32f746 | stm32f412 | nrf52840 | tiny64k: fail (exit 2, nothing written)
                    when the model does not fit the board's SRAM or flash
  --sram, --flash   a budget given directly, e.g. --sram 64k --flash 256k`;

/** The budget asked for by --board / --sram / --flash (undefined: none). */
export function budgetOption(values: { board?: string; sram?: string; flash?: string }): Budget | undefined {
  const board = values.board === undefined ? undefined : boardPreset(values.board);
  if (!board && values.sram === undefined && values.flash === undefined) return undefined;
  const sram = values.sram !== undefined ? parseBytes(values.sram, '--sram') : board?.sramBytes;
  const flash = values.flash !== undefined ? parseBytes(values.flash, '--flash') : board?.flashBytes;
  const source = [board ? `--board ${board.name}` : '', values.sram ? `--sram ${values.sram}` : '', values.flash ? `--flash ${values.flash}` : ''].filter(Boolean).join(' ');
  return { ...(sram !== undefined ? { sramBytes: sram } : {}), ...(flash !== undefined ? { flashBytes: flash } : {}), source };
}

function calibrationSet(spec: 'subset' | 'train'): ImageSet {
  return loadFashionMnist({ split: 'train', source: spec === 'subset' ? 'subset' : 'full' });
}

export function exportTable(report: ExportReport): string {
  const rows = report.nodes.map((l) => [
    l.index, l.name, l.op, `[${l.outputShape.join(',')}]`, l.params.toLocaleString('en-US'), l.macs.toLocaleString('en-US'),
    l.weightBytes.toLocaleString('en-US'), l.activationBytes.toLocaleString('en-US'), l.arenaOffset < 0 ? '-' : `+${l.arenaOffset}`,
  ]);
  return table(['#', 'layer', 'op', 'output', 'params', 'MACs', 'weight B', 'act B', 'arena'], rows);
}

export function exportTotals(report: ExportReport): string[] {
  const t = report.totals;
  const p = report.plan;
  return [
    `flash: ${t.flashDataBytes.toLocaleString('en-US')} bytes of weights, biases, multipliers and tables (code not included)`,
    `peak SRAM: ${(t.arenaBytes + t.stateBytes).toLocaleString('en-US')} bytes (arena ${t.arenaBytes.toLocaleString('en-US')} + stream state ${t.stateBytes.toLocaleString('en-US')})`,
    `arena plan: ${p.arenaSize.toLocaleString('en-US')} bytes vs greedy-by-size ${p.greedyBySize.toLocaleString('en-US')} (ratio ${p.ratio.toFixed(3)}, lower bound ${p.lowerBound.toLocaleString('en-US')})`,
    `MACs: ${t.macs.toLocaleString('en-US')} per inference`,
  ];
}

export async function exportCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('export', argv, {
    out: { type: 'string' }, name: { type: 'string' }, calib: { type: 'string' }, 'calib-count': { type: 'string' },
    method: { type: 'string' }, 'exit-threshold': { type: 'string' }, backend: { type: 'string' },
    board: { type: 'string' }, sram: { type: 'string' }, flash: { type: 'string' }, force: { type: 'boolean' },
    equalize: { type: 'string' }, 'check-count': { type: 'string' },
  });
  // every cheap check first: flags, budget, name, the output folder; then the model; then calibration
  const where = { op: 'tinyblocks export' };
  if (positionals.length !== 1) throw new ConfigError(where, '<model dir>', 'one model directory', positionals);
  const budget = budgetOption(values);
  const backend = choiceOption<BackendName>('export', 'backend', values.backend, ['wasm', 'cpu'], 'wasm');
  const method = choiceOption('export', 'method', values.method, OBSERVER_METHODS, 'percentile');
  const calibCount = intOption('export', 'calib-count', values['calib-count'], 500, 1, 100_000);
  const equalize = choiceOption('export', 'equalize', values.equalize, ['on', 'off'] as const, 'on') === 'on';
  const checkCount = intOption('export', 'check-count', values['check-count'], 200, 1, 100_000);
  if (values.name !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(values.name)) {
    throw new ConfigError(where, '--name', 'a C identifier of at most 64 characters', values.name);
  }
  const out = outFolder('export', values, EXPORT_KIND);
  await initBackend(backend);
  const modelDir = positionals[0]!;
  const model = await loadUserModel(modelDir, io);
  const info = modelInfo(model);
  const exitHeads = info.outputRoles.filter((r) => r === 'exit').length;
  const thresholds = thresholdsOption('export', values['exit-threshold'], exitHeads);
  const exitThreshold = thresholds ?? defaultExitThreshold(info);
  // the model's input shape drives the data: Fashion-MNIST (and 28x28 IDX files) for a
  // [28, 28, 1] model, otherwise random or the user's .npy / IDX file of that shape
  const shape = model.inputs[0]!.shape.slice(1);
  if (shape.some((d) => d == null)) throw new ConfigError(where, '<model dir>', 'a model input of fixed size (no unknown dimensions besides the batch)', `[${shape.map((d) => d ?? 'null').join(', ')}]`);
  const spec = values.calib ?? 'subset';
  const generic = !((spec === 'subset' || spec === 'train') && shape.join(',') === '28,28,1');
  const bar = new ProgressBar(io.stderr);
  const options = {
    calibCount, method, exitThreshold, equalize, outputRoles: info.outputRoles,
    ...(values.name ? { name: values.name } : {}),
    meta: { model: path.basename(path.resolve(modelDir)), modelDir: path.resolve(modelDir), arch: info.arch },
    onProgress: (done: number, total: number) => bar.update(done / total, 'calibrating', { batches: `${done}/${total}` }),
  };
  let graph: Int8Graph;
  let check: FloatCheck;
  let available: number;
  let calibSource = 'Fashion-MNIST';
  const started = performance.now();
  if (generic) {
    const set = loadInputs('--calib', spec, shape as number[], calibCount);
    available = set.count;
    calibSource = set.source;
    if (values['calib-count'] !== undefined && calibCount > set.count) throw new ConfigError(where, '--calib-count', `at most the ${set.count} calibration samples available`, calibCount);
    const n = Math.min(calibCount, set.count);
    checkCalibrationValues(set.values, n, set.values.length / set.count, set.source);
    graph = quantizeModel(model, () => inputBatches(set, n), { ...options, totalBatches: Math.ceil(n / 50), meta: { ...options.meta, calibration: set.source, calibrationImages: n } });
    check = checkAgainstFloat(model, graph, inputBatches(set, Math.min(checkCount, set.count)));
  } else {
    const calib = calibrationSet(spec as 'subset' | 'train');
    available = calib.count;
    if (values['calib-count'] !== undefined && calibCount > calib.count) throw new ConfigError(where, '--calib-count', `at most the ${calib.count} calibration images available`, calibCount);
    graph = quantizeWithImages(model, calib, options);
    // bit-exact C only proves C == the TypeScript reference: compare the reference with the float model
    check = checkAgainstFloat(model, graph, calibrationBatches(calib, Math.min(checkCount, calib.count)));
  }
  const checked = Math.min(checkCount, available);
  const generated = generateC(graph);
  const report = generated.report;
  generated.files['report.json'] = `${JSON.stringify({ ...JSON.parse(generated.files['report.json']!), floatCheck: { images: `calibration images 0-${checked - 1}`, ...check } }, null, 2)}\n`;
  if (budget) {
    checkBudget({ name: graph.name, arenaBytes: report.totals.arenaBytes, stateBytes: report.totals.stateBytes, flashDataBytes: report.totals.flashDataBytes, perNode: planArena(graph).perNode, ops: graph.nodes.map((n) => n.op) }, budget);
  }
  writeExport(values.out!, generated, { force: out.force });
  print(io,
    `quantized ${info.arch} to int8 (${method} calibration on ${Math.min(calibCount, available)} ${calibSource} samples) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    '',
    exportTable(report),
    '',
    ...exportTotals(report),
    '',
    ...floatCheckReport(check, `${checked} calibration images`),
    ...(budget ? [`fits ${budget.source}: SRAM ${(report.totals.arenaBytes + report.totals.stateBytes).toLocaleString('en-US')} of ${budget.sramBytes?.toLocaleString('en-US') ?? 'any'} bytes, weights ${report.totals.flashDataBytes.toLocaleString('en-US')} of ${budget.flashBytes?.toLocaleString('en-US') ?? 'any'} bytes of flash`] : []),
    `wrote ${Object.keys(generated.files).length} files to ${out.dir}`,
    ...keptLine(out),
  );
  if (check.agreement < MIN_AGREEMENT) warn(io, `int8 agrees with float on only ${(check.agreement * 100).toFixed(1)}% of ${check.count} samples (first error jump: ${check.firstJump?.node ?? 'none'}); tinyblocks verify fails below --min-agreement ${MIN_AGREEMENT}`);
  return 0;
}
