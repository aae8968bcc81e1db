import { countModel, initBackend } from '@tinyblocks/core';
import { loadModel } from '@tinyblocks/core/node';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from '@tinyblocks/datasets';
import { evaluate, modelInfo, shippedModelDir } from '@tinyblocks/models';
import { print, type Io } from '../io.js';
import { deltaStreamReport, earlyExitReport, interventionReport, layerTable } from '../reports.js';

export const DEMO_HELP = `tinyblocks demo
  the shipped reference model on the shipped Fashion-MNIST subset (no download): layers, accuracy,
  early exits, a concept intervention and the delta layer on a moving stream`;

export async function demo(_argv: string[], io: Io): Promise<number> {
  await initBackend('wasm');
  const dir = shippedModelDir();
  const model = await loadModel(dir);
  const info = modelInfo(model);
  const set = loadFashionMnist({ split: 'test', source: 'subset' });
  print(io, `tinyblocks demo: the shipped ${info.arch} model (${dir}), backend wasm`, '', layerTable(countModel(model)), '');
  const result = evaluate(model, info, set);
  print(io, `accuracy on the ${set.count} shipped test images (the full test set: tinyblocks eval ${dir} --data test)`);
  for (const h of result.heads) print(io, `  ${h.name.padEnd(8)} ${h.role.padEnd(6)} ${h.accuracy.toFixed(4)}`);
  print(io, '', earlyExitReport(model, set), '');
  // a sneaker: assert it covers the ankle and is closed, and the prediction follows to Ankle boot
  const sneaker = set.labels.indexOf(FASHION_MNIST_CLASSES.indexOf('Sneaker'));
  print(io, interventionReport(model, set, sneaker, { 'high top': 1, open: 0 }), '');
  print(io, deltaStreamReport(model, set, sneaker), '');
  print(io, `accuracy: ${result.accuracy.toFixed(4)} on ${result.count} images`);
  return 0;
}
