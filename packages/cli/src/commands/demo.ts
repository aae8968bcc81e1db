import { countModel, initBackend } from '@tinyblocks/core';
import { loadModel } from '@tinyblocks/core/node';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { evaluate, modelInfo, shippedModelDir } from '@tinyblocks/models';
import { print, type Io } from '../io.js';
import { earlyExitReport, layerTable } from '../reports.js';

export const DEMO_HELP = `tinyblocks demo
  the shipped reference model on the shipped Fashion-MNIST subset (no download): layers, accuracy,
  early exits, concept interventions and the delta layer on a moving stream`;

export async function demo(_argv: string[], io: Io): Promise<number> {
  await initBackend('wasm');
  const dir = shippedModelDir();
  const model = await loadModel(dir);
  const info = modelInfo(model);
  const set = loadFashionMnist({ split: 'test', source: 'subset' });
  print(io, `tinyblocks demo: shipped ${info.arch} model (${dir})`, '', layerTable(countModel(model)), '');
  const result = evaluate(model, info, set);
  for (const h of result.heads) print(io, `  ${h.name.padEnd(10)} ${h.role.padEnd(6)} accuracy ${h.accuracy.toFixed(4)}`);
  print(io, '', earlyExitReport(model, set));
  print(io, `accuracy: ${result.accuracy.toFixed(4)} on ${result.count} images`);
  return 0;
}
