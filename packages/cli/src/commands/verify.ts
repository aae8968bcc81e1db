import * as path from 'node:path';
import * as fs from 'node:fs';
import { ConfigError, initBackend } from '@tinyblocks/core';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { calibrationBatches, imageCodes } from '@tinyblocks/models';
import * as tf from '@tensorflow/tfjs-core';
import { checkAgainstFloat, type FloatCheck, quantizeInput } from '@tinyblocks/quantize';
import { inputBatches, loadInputs } from '../inputs.js';
import { boardPreset, checkBudget, planArena } from '@tinyblocks/plan';
import { generateC } from '@tinyblocks/export-c';
import { CORTEX_M_TARGET_INFO, CORTEX_M_TARGETS, type CortexMTarget, readModelDir, verifyCortexM, verifyHost } from '@tinyblocks/verify';
import { choiceOption, intOption, numberOption, parse } from '../args.js';
import { loadUserModel, print, warn, type Io } from '../io.js';
import { floatAgreementLine, floatCheckReport, MIN_AGREEMENT } from '../reports.js';
import { table } from '../table.js';
import { budgetOption } from './export.js';

const TARGETS = ['host', ...CORTEX_M_TARGETS] as const;

export const VERIFY_HELP = `tinyblocks verify <out dir> [--target host|cortex-m0|cortex-m3|cortex-m4|cortex-m7|cortex-m55] [--board <preset>] [--count N]
  Runs N Fashion-MNIST test images through an export and compares every output byte (and every
  layer) with the TypeScript int8 reference; exit code 1 on any difference.
  --target host: compiles with this machine's C compiler (-std=c99 -Wall -Wextra -Werror -O2, and
              again with -fsanitize=address,undefined); modes full, early exit, a concept
              intervention, and a delta stream.
  --target cortex-m*: builds firmware with arm-none-eabi-gcc, runs it in qemu-system-arm and
              reports flash (code and weights), static RAM, stack high-water mark and executed
              instructions per inference and per layer (a QEMU plugin counts instructions, not cycles)
  --board     stm32f746 | stm32f412 | nrf52840 | tiny64k: its core (when --target is not given)
              and its SRAM/flash budget, checked before building; or --sram/--flash directly
  --count     test images (default 100)
  --data      test | subset (default: the full test set when installed, else the shipped
              subset) for a [28, 28, 1] model; otherwise random[:seed], a .npy or an IDX file
              shaped like the model input
  --model     the float model the export came from (default: the folder export recorded), to
              compare the int8 graph with on the same images: top-1 agreement and per-layer SQNR
  --min-agreement  exit 1 when int8 agrees with float on fewer top-1 answers (default 0.97)`;

export async function verifyCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('verify', argv, {
    target: { type: 'string' }, count: { type: 'string' }, data: { type: 'string' }, board: { type: 'string' }, sram: { type: 'string' }, flash: { type: 'string' },
    model: { type: 'string' }, 'min-agreement': { type: 'string' },
  });
  if (positionals.length !== 1) throw new ConfigError({ op: 'tinyblocks verify' }, '<out dir>', 'one export directory', positionals);
  const board = values.board === undefined ? undefined : boardPreset(values.board);
  const target = choiceOption('verify', 'target', values.target, TARGETS, board ? board.core : 'host');
  const count = intOption('verify', 'count', values.count, 100, 1, 100_000);
  const outDir = positionals[0]!;
  const budget = budgetOption(values);
  const minAgreement = numberOption('verify', 'min-agreement', values['min-agreement'], MIN_AGREEMENT, { min: 0, max: 1 });
  const model = readModelDir(outDir);
  const { graph } = model;
  if (model.changed.length > 0) warn(io, `${model.dir}: changed since tinyblocks export wrote them (compiled as they are): ${model.changed.join(', ')}`);
  if (budget) {
    // recomputed from the int8 graph, as the exporter computes them: report.json is not trusted
    const totals = generateC(graph).report.totals;
    checkBudget({ name: graph.name, ...totals, perNode: planArena(graph).perNode, ops: graph.nodes.map((n) => n.op) }, budget);
  }
  // inputs shaped by the graph's input: Fashion-MNIST test images for a [28, 28, 1] model, else
  // random or the user's .npy / IDX file (see inputs.ts)
  const spec = values.data ?? 'test';
  const inShape = graph.tensors[graph.input]!.shape;
  let inputs: Int8Array[];
  let floatBatches: () => Iterable<tf.Tensor>;
  let described: string;
  if ((spec === 'test' || spec === 'subset') && inShape.join(',') === '28,28,1') {
    const all = loadFashionMnist({ split: 'test', source: values.data === undefined ? 'auto' : spec === 'test' ? 'full' : 'subset' });
    if (count > all.count) throw new ConfigError({ op: 'tinyblocks verify' }, '--count', `at most the ${all.count} ${all.source} test images available`, count);
    const set = count === all.count ? all : loadFashionMnist({ split: 'test', source: all.source, limit: count });
    inputs = Array.from({ length: set.count }, (_, i) => imageCodes(graph, set, i));
    floatBatches = () => calibrationBatches(set, set.count);
    described = `${set.count} ${set.source} test images`;
  } else {
    const set = loadInputs('--data', spec, inShape, count);
    if (count > set.count) throw new ConfigError({ op: 'tinyblocks verify' }, '--count', `at most the ${set.count} samples of ${set.source}`, count);
    const size = inShape.reduce((a, b) => a * b, 1);
    inputs = Array.from({ length: count }, (_, i) => quantizeInput(graph, set.values.subarray(i * size, (i + 1) * size)));
    floatBatches = () => inputBatches(set, count);
    described = `${count} samples of ${set.source}`;
  }
  const has = { exits: graph.nodes.some((n) => n.op === 'exit_decision'), stream: graph.nodes.some((n) => n.op === 'delta_dense') };
  // int8 vs the float model on the same images (bit-exact proves C == TS, not TS == the model)
  const recorded = typeof graph.meta['modelDir'] === 'string' ? graph.meta['modelDir'] : undefined;
  const modelDir = values.model ?? (recorded && fs.existsSync(recorded) ? recorded : undefined);
  const floatCheck = async (): Promise<{ ok: boolean; lines: string[] }> => {
    if (!modelDir) return { ok: true, lines: ['float agreement: not checked (no float model: pass --model <dir>)'] };
    await initBackend('cpu');
    const model = await loadUserModel(modelDir, io);
    const check: FloatCheck = checkAgainstFloat(model, graph, floatBatches());
    model.dispose();
    const ok = check.agreement >= minAgreement;
    print(io, '', ...floatCheckReport(check, `the same ${check.count} inputs (float model ${path.resolve(modelDir)})`).slice(0, -1));
    return { ok, lines: [`${floatAgreementLine(check)}${ok ? '' : ` (below --min-agreement ${minAgreement})`}`] };
  };
  const what = `${path.resolve(outDir)} (${graph.name}, ${graph.nodes.length} nodes) on ${described}`;
  if (target === 'host') {
    const result = await verifyHost(outDir, inputs);
    print(io, `verified ${what}`);
    for (const b of result.builds) print(io, `  build: ${b}`);
    // the harness runs every mode; report the ones this model has (a plain model: full only)
    const shown = result.modes.filter((m) => (m !== 'exits' || has.exits) && (m !== 'stream' || has.stream));
    print(io, `  modes: ${shown.join(', ')}${has.exits ? `; early exit taken on ${result.exitsTaken}/${result.count} images` : ''}`);
    const m = result.macs;
    const pct = (v: number) => `${Math.round(v).toLocaleString('en-US')} (${((100 * v) / m.dense).toFixed(1)}%)`;
    print(io, `  MACs per inference, executed by the C code: dense ${Math.round(m.dense).toLocaleString('en-US')}, full ${pct(m.full)}${has.exits ? `, early exit ${pct(m.exits)}` : ''}${has.stream ? `, delta stream ${pct(m.stream)}` : ''}`);
    if (result.firstMismatch) {
      const x = result.firstMismatch;
      const where = x.nodeIndex !== null ? `layer #${x.nodeIndex} ${x.node} (${x.op})` : `result field ${x.field}`;
      print(io, `  first difference: ${where}, frame ${x.frame}, mode ${x.mode}, build ${x.build}${x.byte !== null ? `, byte ${x.byte}` : ''}: C ${x.c}, TS ${x.ts}`);
    }
    const agreement = await floatCheck();
    print(io, `verify host: ${result.exact}/${result.count} bit-exact`, ...agreement.lines);
    return result.exact === result.count && agreement.ok ? 0 : 1;
  }
  const r = await verifyCortexM(outDir, inputs, { target: target as CortexMTarget });
  const info = CORTEX_M_TARGET_INFO[target as CortexMTarget];
  const n = (v: number | null) => (v === null ? '-' : Math.round(v).toLocaleString('en-US'));
  print(io,
    `verified ${what} on emulated ${target} (qemu-system-arm -M ${info.machine}); executed instructions counted by a QEMU plugin (instructions, not cycles)`,
    `  flash: code ${n(r.flash.codeBytes)} B (the model's own code ${n(r.flash.modelCodeBytes)} B at -O2, ${n(r.flash.modelCodeBytesOs)} B at -Os), weights and tables ${n(r.flash.modelDataBytes)} B, test vectors ${n(r.flash.framesBytes)} B`,
    `  RAM: static ${n(r.ram.staticBytes)} B (arena ${n(r.ram.arenaBytes)} B + stream state and harness), stack high-water mark ${n(r.ram.stackBytes)} B (${n(r.ram.inferenceStackBytes)} B below main)`,
    `  instructions per inference: full ${n(r.instructions.full)}${has.exits ? `, early exit ${n(r.instructions.exits)} (${((1 - r.instructions.exits / r.instructions.full) * 100).toFixed(1)}% fewer)` : ''}`,
    '',
    table(['#', 'layer', 'op', 'instructions'], r.instructions.perLayer.map((l) => [l.nodeIndex, l.node, l.op, n(l.instructions)])),
    '',
  );
  if (r.firstMismatch) {
    const x = r.firstMismatch;
    const where = x.nodeIndex !== null ? `layer #${x.nodeIndex} ${x.node} (${x.op})` : `result field ${x.field}`;
    print(io, `  first difference: ${where}, frame ${x.frame}, mode ${x.mode}${x.byte !== null ? `, byte ${x.byte}` : ''}: C ${x.c}, TS ${x.ts}`);
  }
  const agreement = await floatCheck();
  print(io, `verify ${target}: ${r.exact}/${r.count} bit-exact, ${n(r.instructions.full)} instructions/inference`, ...agreement.lines);
  return r.exact === r.count && agreement.ok ? 0 : 1;
}
