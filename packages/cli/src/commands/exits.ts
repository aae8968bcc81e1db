import { ConfigError, initBackend, type BackendName } from '@tinyblocks/core';
import { saveModel } from '@tinyblocks/core/node';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { applyThresholds, POOLINGS, type Pooling } from '@tinyblocks/early-exit';
import { evaluate, exitProbabilities, holdOut, infoMetadata, modelInfo, retrainExits, tuneExitThresholds, type ExitHeadSpec } from '@tinyblocks/models';
import { choiceOption, intOption, numberOption, parse } from '../args.js';
import { keptLine, loadUserModel, outFolder, print, type Io } from '../io.js';
import { formatDuration, ProgressBar } from '../progress.js';
import { table } from '../table.js';

export const EXITS_HELP = `tinyblocks retrain-exits <model dir> --out <dir> [--pooling concat,concat] [--grid 2,1] [--epochs 6] [--max-loss 0.003]
  Retrains the early-exit heads on the frozen backbone (the backbone and the final classifier keep
  their weights) on the training images, tunes one max-softmax threshold per head (the fewest
  average MACs within --max-loss of the final classifier's accuracy) on the first --tune test
  images, reports the other test images, and saves the model with the thresholds in its metadata
  (tinyblocks export uses them). Thresholds are tuned on test images because the backbone has seen
  every training image: on those its accuracy is too high to compare the exits with.
  --pooling   per exit head: mix | avg | max | concat ([avg, max]); default: as before
  --grid      per exit head: pool each of g x g regions (H and W divisible by g); default: as before
  --tune      test images the thresholds are tuned on (default: the first half); the rest are reported
  --lr        peak learning rate (default 3e-3, cosine decay)
  --data      subset (default: the shipped 3,000 + 2,000 images) | full (Debian dataset)
  --backend   wasm | cpu (default wasm)
  --seed      initial head weights and shuffling (default 1)
  --out       new, empty, or a model saved there before; --force overwrites files of it you changed`;

/** "a,b" -> one value per exit head (one value: every head). */
function perHead<T>(name: string, text: string | undefined, heads: number, parseOne: (s: string) => T): Array<T | undefined> {
  if (text === undefined) return new Array<T | undefined>(heads).fill(undefined);
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length !== 1 && parts.length !== heads) {
    throw new ConfigError({ op: 'tinyblocks retrain-exits' }, `--${name}`, `one value, or one per exit head (${heads})`, text);
  }
  return Array.from({ length: heads }, (_, i) => parseOne(parts[parts.length === 1 ? 0 : i]!));
}

export async function exitsCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('retrain-exits', argv, {
    out: { type: 'string' }, pooling: { type: 'string' }, grid: { type: 'string' }, epochs: { type: 'string' }, 'max-loss': { type: 'string' },
    tune: { type: 'string' }, lr: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string' }, seed: { type: 'string' },
    force: { type: 'boolean' },
  });
  const where = { op: 'tinyblocks retrain-exits' };
  if (positionals.length !== 1) throw new ConfigError(where, '<model dir>', 'one model directory', positionals);
  const epochs = intOption('retrain-exits', 'epochs', values.epochs, 6, 1, 10_000);
  const maxLoss = numberOption('retrain-exits', 'max-loss', values['max-loss'], 0.003);
  if (!(maxLoss >= 0 && maxLoss < 1)) throw new ConfigError(where, '--max-loss', 'an accuracy loss in [0, 1)', maxLoss);
  const learningRate = numberOption('retrain-exits', 'lr', values.lr, 3e-3, { min: 0, max: 10, openLow: true });
  const seed = intOption('retrain-exits', 'seed', values.seed, 1, 0, 2 ** 31 - 1);
  const source = choiceOption('retrain-exits', 'data', values.data, ['subset', 'full'] as const, 'subset');
  const backend = choiceOption<BackendName>('retrain-exits', 'backend', values.backend, ['wasm', 'cpu'], 'wasm');
  const out = outFolder('retrain-exits', values, 'model');
  await initBackend(backend);
  const model = await loadUserModel(positionals[0]!, io);
  const info = modelInfo(model);
  const exitCount = info.outputRoles.filter((r) => r === 'exit').length;
  if (exitCount === 0) throw new ConfigError(where, '<model dir>', 'a model with early-exit heads', `${info.arch} (outputs: ${info.outputRoles.join(', ')})`);
  const pooling = perHead('pooling', values.pooling, exitCount, (s) => choiceOption<Pooling>('retrain-exits', 'pooling', s, POOLINGS, 'mix'));
  const grid = perHead('grid', values.grid, exitCount, (s) => intOption('retrain-exits', 'grid', s, 1, 1, 64));
  const heads: ExitHeadSpec[] = pooling.map((p, i) => ({ ...(p ? { pooling: p } : {}), ...(grid[i] ? { grid: grid[i] } : {}) }));

  const train = loadFashionMnist({ split: 'train', source });
  const allTest = loadFashionMnist({ split: 'test', source });
  const tuneCount = intOption('retrain-exits', 'tune', values.tune, Math.floor(allTest.count / 2));
  if (tuneCount >= allTest.count) throw new ConfigError(where, '--tune', `fewer than the ${allTest.count} test images (the rest are reported)`, tuneCount);
  const { train: tuneSet, heldOut: test } = holdOut(allTest, allTest.count - tuneCount); // tune on the first images, report the rest
  const before = evaluate(model, info, test);

  const bar = new ProgressBar(io.stderr);
  const r = retrainExits(model, info, train, {
    epochs, heads, learningRate, seed,
    onProgress: (p) => bar.update(((p.epoch - 1) * p.stepsPerEpoch + p.step) / (p.epochs * p.stepsPerEpoch), `exit heads epoch ${p.epoch}/${p.epochs}`, {
      loss: p.loss.toFixed(4), ETA: formatDuration(p.etaSeconds),
    }),
  });
  const tuned = tuneExitThresholds(r.model, tuneSet, { maxLoss });
  const after = evaluate(r.model, info, test);
  const onTest = applyThresholds(exitProbabilities(r.model, test), tuned.thresholds);
  const saved = (macs: number) => `${((1 - macs / tuned.worstCaseMacs) * 100).toFixed(1)}%`;
  const newInfo = { ...info, exitThresholds: tuned.thresholds };
  // keeps what the model said about its training; the evaluation (every test image, as train writes it) is new
  const whole = evaluate(r.model, info, allTest);
  await saveModel(r.model, out.dir, {
    ...(model.getUserDefinedMetadata() ?? {}),
    evaluation: { split: 'test', source: allTest.source, count: whole.count, accuracy: whole.accuracy, heads: whole.heads },
    ...infoMetadata(newInfo, {
      exits: {
        command: `tinyblocks retrain-exits ${argv.join(' ')}`, heads: r.heads, epochs, learningRate, seed, source, tunedOn: `test images 0-${tuneCount - 1}`, maxLoss, steps: r.steps,
        evaluation: { split: 'test', images: `${tuneCount}-${allTest.count - 1}`, heads: after.heads, earlyExit: { thresholds: tuned.thresholds, ...onTest, saved: 1 - onTest.averageMacs / tuned.worstCaseMacs } },
      },
    }),
  }, { force: out.force });
  const rows = before.heads.map((h, i) => {
    const head = r.heads.find((x) => x.name === h.name);
    return [h.name, h.role, head ? `${head.pooling}, grid ${head.grid}` : '(unchanged)', h.accuracy.toFixed(4), after.heads[i]!.accuracy.toFixed(4)];
  });
  print(io,
    `retrained ${r.heads.length} exit heads: ${r.steps} steps in ${formatDuration(r.seconds)} on ${train.count} ${source} training images; saved ${out.dir}`,
    ...keptLine(out),
    `accuracy on test images ${tuneCount}-${allTest.count - 1} (${test.count}, not used for tuning):`,
    table(['head', 'role', 'pooling', 'before', 'after'], rows),
    `thresholds tuned on test images 0-${tuneCount - 1} (max loss ${maxLoss}): ${tuned.thresholds.map((t) => (t <= 1 ? String(t) : 'never')).join(', ')}`,
    `  tuning images:   accuracy ${tuned.accuracy.toFixed(4)} vs ${tuned.baselineAccuracy.toFixed(4)} without exits, ${saved(tuned.averageMacs)} fewer MACs, exits per head ${tuned.exitHistogram.join(' / ')}`,
    `  reported images: accuracy ${onTest.accuracy.toFixed(4)} vs ${after.accuracy.toFixed(4)} without exits, ${saved(onTest.averageMacs)} fewer MACs, exits per head ${onTest.exitHistogram.join(' / ')}`,
  );
  return 0;
}
