import { ConfigError, initBackend, type BackendName } from '@tinyblocks/core';
import { saveModel } from '@tinyblocks/core/node';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { evaluate, evaluateInt8, fineTuneQat, infoMetadata, modelInfo, quantizeWithImages } from '@tinyblocks/models';
import { choiceOption, intOption, numberOption, parse } from '../args.js';
import { keptLine, loadUserModel, outFolder, print, type Io } from '../io.js';
import { formatDuration, ProgressBar } from '../progress.js';

export const QAT_HELP = `tinyblocks qat <model dir> --out <dir> [--epochs 1] [--lr 3e-4] [--data subset|full]
  Quantization-aware fine-tuning: trains with fake-quantized activations and weights
  (straight-through estimator), saves the float model, and reports float and int8 accuracy
  (post-training quantization + the TypeScript integer reference) before and after.
  --data      subset (default: the shipped 3,000 + 2,000 images) | full (Debian dataset)
  --backend   wasm | cpu (default wasm)
  --out       new, empty, or a model saved there before (the input folder itself is fine);
              --force overwrites files of it you changed`;

export async function qatCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('qat', argv, {
    out: { type: 'string' }, epochs: { type: 'string' }, lr: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string' }, force: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new ConfigError({ op: 'tinyblocks qat' }, '<model dir>', 'one model directory', positionals);
  const epochs = intOption('qat', 'epochs', values.epochs, 1, 1, 10_000);
  const learningRate = numberOption('qat', 'lr', values.lr, 3e-4, { min: 0, max: 10, openLow: true });
  const source = choiceOption('qat', 'data', values.data, ['subset', 'full'] as const, 'subset');
  const backend = choiceOption<BackendName>('qat', 'backend', values.backend, ['wasm', 'cpu'], 'wasm');
  const out = outFolder('qat', values, 'model');
  await initBackend(backend);
  const model = await loadUserModel(positionals[0]!, io);
  const info = modelInfo(model);
  const train = loadFashionMnist({ split: 'train', source });
  const test = loadFashionMnist({ split: 'test', source });
  const measure = () => {
    const float = evaluate(model, info, test).accuracy;
    const int8 = evaluateInt8(quantizeWithImages(model, train, { outputRoles: info.outputRoles }), test).accuracy;
    return { float, int8 };
  };
  const before = measure();
  const bar = new ProgressBar(io.stderr);
  const summary = fineTuneQat(model, info, train, {
    epochs, learningRate,
    onProgress: (p) => bar.update(((p.epoch - 1) * p.stepsPerEpoch + p.step) / (p.epochs * p.stepsPerEpoch), `qat epoch ${p.epoch}/${p.epochs}`, {
      loss: p.loss.toFixed(4), ETA: formatDuration(p.etaSeconds),
    }),
  });
  const after = measure();
  const { evaluation: _stale, ...kept } = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>; // weights changed
  await saveModel(model, out.dir, { ...kept, ...infoMetadata(info, { qat: { command: `tinyblocks qat ${argv.join(' ')}`, epochs, learningRate, source, steps: summary.steps } }) }, { force: out.force });
  print(io,
    `QAT: ${summary.steps} steps in ${formatDuration(summary.seconds)} on ${train.count} ${source} images; saved ${out.dir}`,
    ...keptLine(out),
    `accuracy on ${test.count} test images: float ${before.float.toFixed(4)} -> ${after.float.toFixed(4)}, int8 ${before.int8.toFixed(4)} -> ${after.int8.toFixed(4)}`,
  );
  return 0;
}
