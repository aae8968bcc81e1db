import { ConfigError, initBackend, type BackendName } from '@tinyblocks/core';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { defaultExitThreshold, evaluate, evaluateInt8, holdOut, modelInfo, quantizeWithImages } from '@tinyblocks/models';
import { OBSERVER_METHODS } from '@tinyblocks/quantize';
import { choiceOption, intOption, parse } from '../args.js';
import { loadUserModel, print, type Io } from '../io.js';
import { earlyExitReport, int8EarlyExitReport } from '../reports.js';

export const EVAL_HELP = `tinyblocks eval <model dir> [--data test|subset] [--backend wasm|cpu] [--int8 [--method percentile|minmax] [--equalize on|off]]
  --data      test: the full 10,000-image test set (apt-get install dataset-fashion-mnist);
              subset: the 2,000 test images shipped in @tinyblocks/datasets
              (default: test when installed, else subset)
  --limit     evaluate only N images;  --from  start at test image N (default 0)
  --backend   wasm | cpu (default wasm)
  --int8      also quantize (calibrated on 500 shipped training images, as tinyblocks export does)
              and measure the int8 graph with the TypeScript integer reference (= the C code's bytes)
  --method    calibration: percentile (default) | minmax;  --equalize on (default) | off`;

export async function evalCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('eval', argv, {
    data: { type: 'string' }, backend: { type: 'string' }, limit: { type: 'string' }, from: { type: 'string' },
    int8: { type: 'boolean' }, method: { type: 'string' }, equalize: { type: 'string' },
  });
  const method = choiceOption('eval', 'method', values.method, OBSERVER_METHODS, 'percentile');
  const equalize = choiceOption('eval', 'equalize', values.equalize, ['on', 'off'] as const, 'on') === 'on';
  if (positionals.length !== 1) throw new ConfigError({ op: 'tinyblocks eval' }, '<model dir>', 'one model directory', positionals);
  const backend = choiceOption<BackendName>('eval', 'backend', values.backend, ['wasm', 'cpu'], 'wasm');
  const data = choiceOption('eval', 'data', values.data, ['test', 'subset'] as const, 'test');
  const limit = values.limit === undefined ? undefined : intOption('eval', 'limit', values.limit, 1, 1, 100_000);
  const from = intOption('eval', 'from', values.from, 0, 0, 100_000);
  await initBackend(backend);
  const model = await loadUserModel(positionals[0]!, io);
  const info = modelInfo(model);
  const source = values.data === undefined ? 'auto' : data === 'test' ? 'full' : 'subset';
  const loaded = loadFashionMnist({ split: 'test', source, ...(limit ? { limit: from + limit } : {}) });
  if (from >= loaded.count) throw new ConfigError({ op: 'tinyblocks eval' }, '--from', `an index below the ${loaded.count} test images`, from);
  const set = from === 0 ? loaded : { ...loaded, ...holdOut(loaded, loaded.count - from).heldOut };
  const result = evaluate(model, info, set);
  const which = from === 0 ? `${set.count}` : `${set.count} (${from}-${from + set.count - 1})`;
  print(io, `model ${positionals[0]} (${info.arch}) on ${which} ${set.source === 'full' ? 'Fashion-MNIST test' : 'shipped subset test'} images, backend ${backend}`);
  for (const h of result.heads) print(io, `  ${h.name.padEnd(10)} ${h.role.padEnd(6)} accuracy ${h.accuracy.toFixed(4)}`);
  const hasExits = info.outputRoles.includes('exit');
  if (hasExits) print(io, '', earlyExitReport(model, set, info.exitThresholds), '');
  if (values.int8 === 'true') {
    const exitThreshold = defaultExitThreshold(info); // as tinyblocks export
    const graph = quantizeWithImages(model, loadFashionMnist({ split: 'train', source: 'subset' }), { outputRoles: info.outputRoles, method, equalize, exitThreshold });
    const q = evaluateInt8(graph, set, { exits: hasExits });
    print(io, `int8 (${method} calibration, equalization ${equalize ? 'on' : 'off'}), TypeScript integer reference:`);
    for (const h of q.heads) print(io, `  ${h.name.padEnd(10)} ${h.role.padEnd(6)} accuracy ${h.accuracy.toFixed(4)}`);
    if (q.earlyExit) print(io, int8EarlyExitReport(q, [exitThreshold].flat().join(', ')));
    print(io, `int8 accuracy: ${q.accuracy.toFixed(4)} on ${q.count} images`);
  }
  print(io, `accuracy: ${result.accuracy.toFixed(4)} on ${result.count} images`);
  return 0;
}
