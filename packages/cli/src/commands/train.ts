import { ConfigError, countModel, initBackend, type BackendName } from '@tinyblocks/core';
import { saveModel } from '@tinyblocks/core/node';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { ARCHITECTURES, buildArchitecture, calibrateConceptInterventions, evaluate, infoMetadata, trainModel } from '@tinyblocks/models';
import { choiceOption, intOption, numberOption, parse } from '../args.js';
import { keptLine, outFolder, print, type Io } from '../io.js';
import { formatDuration, ProgressBar } from '../progress.js';

export const TRAIN_HELP = `tinyblocks train --arch <name> --epochs N --backend wasm|cpu --out <dir>
  --arch      ${Object.keys(ARCHITECTURES).join(' | ')} (default reference)
  --epochs    passes over the training set (default 1)
  --backend   wasm | cpu (default wasm)
  --out       directory to write model.json + weights.bin (required): new, empty, or a model
              saved there before (files you added are kept); --force overwrites files you changed
  --data      auto | full | subset: training images (default auto: the full set when installed)
  --limit     use only the first N training images
  --batch     batch size (default 64)
  --lr        peak learning rate (default 0.003, cosine decay)
  --seed      initialisation and shuffling seed (default 1)`;

export async function train(argv: string[], io: Io): Promise<number> {
  const { values } = parse('train', argv, {
    arch: { type: 'string' }, epochs: { type: 'string' }, backend: { type: 'string' }, out: { type: 'string' },
    data: { type: 'string' }, limit: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
    force: { type: 'boolean' },
  });
  const arch = values.arch ?? 'reference';
  if (!Object.hasOwn(ARCHITECTURES, arch)) throw new ConfigError({ op: 'tinyblocks train' }, '--arch', `one of ${Object.keys(ARCHITECTURES).join(', ')}`, arch);
  const epochs = intOption('train', 'epochs', values.epochs, 1, 1, 10_000);
  const backend = choiceOption<BackendName>('train', 'backend', values.backend, ['wasm', 'cpu'], 'wasm');
  const source = choiceOption('train', 'data', values.data, ['auto', 'full', 'subset'] as const, 'auto');
  const batchSize = intOption('train', 'batch', values.batch, 64, 1, 65_536);
  const seed = intOption('train', 'seed', values.seed, 1, 0, 2 ** 31 - 1);
  const learningRate = numberOption('train', 'lr', values.lr, 3e-3, { min: 0, max: 10, openLow: true });
  const limit = values.limit === undefined ? undefined : intOption('train', 'limit', values.limit, 0, 1);
  const out = outFolder('train', values, 'model'); // before any work: a folder that is not ours is refused

  await initBackend(backend);
  const { model, info } = buildArchitecture(arch, seed);
  const trainSet = loadFashionMnist({ split: 'train', source, limit });
  const testSet = loadFashionMnist({ split: 'test', source: trainSet.source });
  const counts = countModel(model);
  print(io, `training ${info.arch} (${counts.totalParams.toLocaleString('en-US')} params, ${counts.totalMacs.toLocaleString('en-US')} MACs/image) on ${trainSet.count} ${trainSet.source} Fashion-MNIST images, backend ${backend}`);

  const bar = new ProgressBar(io.stderr);
  const summary = trainModel(model, info, trainSet, {
    epochs, batchSize, seed, learningRate,
    onProgress: (p) =>
      bar.update(((p.epoch - 1) * p.stepsPerEpoch + p.step) / (p.epochs * p.stepsPerEpoch), `epoch ${p.epoch}/${p.epochs}`, {
        loss: p.loss.toFixed(4), acc: p.accuracy.toFixed(4), 'img/s': Math.round(p.imagesPerSec).toString(), ETA: formatDuration(p.etaSeconds),
      }),
  });
  calibrateConceptInterventions(model, trainSet.images);
  const result = evaluate(model, info, testSet);
  const command = `tinyblocks train ${argv.join(' ')}`;
  await saveModel(model, out.dir, infoMetadata(info, {
    training: { command, backend, epochs, seed, images: trainSet.count, source: trainSet.source, seconds: Math.round(summary.seconds) },
    evaluation: { split: 'test', source: testSet.source, count: result.count, accuracy: result.accuracy, heads: result.heads },
  }), { force: out.force });
  print(io,
    `trained ${summary.steps} steps in ${formatDuration(summary.seconds)} (${Math.round(summary.images / summary.seconds)} img/s)`,
    `saved ${out.dir}`,
    ...keptLine(out),
    ...result.heads.map((h) => `  ${h.name.padEnd(10)} ${h.role.padEnd(6)} accuracy ${h.accuracy.toFixed(4)}`),
    `accuracy: ${result.accuracy.toFixed(4)} on ${result.count} images`,
  );
  return 0;
}
