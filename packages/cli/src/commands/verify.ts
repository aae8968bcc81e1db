import * as path from 'node:path';
import { ConfigError } from '@tinyblocks/core';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { imageCodes } from '@tinyblocks/models';
import { readModelDir, verifyHost } from '@tinyblocks/verify';
import { choiceOption, intOption, parse } from '../args.js';
import { print, type Io } from '../io.js';

export const VERIFY_HELP = `tinyblocks verify <out dir> --target host [--count N] [--data test|subset]
  Compiles an export with the machine's C compiler (-std=c99 -Wall -Wextra -Werror -O2, and
  again with -fsanitize=address,undefined), runs N Fashion-MNIST test images through it (full,
  early exit, a concept intervention, and as a delta stream) and compares every output byte
  and every layer with the TypeScript int8 reference. Exit code 1 on any difference.
  --target    host (Cortex-M targets: see issue 4)
  --count     test images (default 100)
  --data      test | subset (default: the full test set when installed, else the shipped subset)`;

export async function verifyCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('verify', argv, { target: { type: 'string' }, count: { type: 'string' }, data: { type: 'string' } });
  if (positionals.length !== 1) throw new ConfigError({ op: 'tinyblocks verify' }, '<out dir>', 'one export directory', positionals);
  choiceOption('verify', 'target', values.target, ['host'] as const, 'host');
  const count = intOption('verify', 'count', values.count, 100);
  const data = choiceOption('verify', 'data', values.data, ['test', 'subset'] as const, 'test');
  const outDir = positionals[0]!;
  const { graph } = readModelDir(outDir);
  const set = loadFashionMnist({ split: 'test', source: values.data === undefined ? 'auto' : data === 'test' ? 'full' : 'subset', limit: count });
  const inputs = Array.from({ length: set.count }, (_, i) => imageCodes(graph, set, i));
  const result = await verifyHost(outDir, inputs);
  print(io, `verified ${path.resolve(outDir)} (${graph.name}, ${graph.nodes.length} nodes) on ${set.count} ${set.source} test images`);
  for (const b of result.builds) print(io, `  build: ${b}`);
  print(io, `  modes: ${result.modes.join(', ')}; early exit taken on ${result.exitsTaken}/${result.count} images`);
  const m = result.macs;
  const pct = (v: number) => `${Math.round(v).toLocaleString('en-US')} (${((100 * v) / m.dense).toFixed(1)}%)`;
  print(io, `  MACs per inference, executed by the C code: dense ${Math.round(m.dense).toLocaleString('en-US')}, full ${pct(m.full)}, early exit ${pct(m.exits)}, delta stream ${pct(m.stream)}`);
  if (result.firstMismatch) {
    const x = result.firstMismatch;
    const where = x.nodeIndex !== null ? `layer #${x.nodeIndex} ${x.node} (${x.op})` : `result field ${x.field}`;
    print(io, `  first difference: ${where}, frame ${x.frame}, mode ${x.mode}, build ${x.build}${x.byte !== null ? `, byte ${x.byte}` : ''}: C ${x.c}, TS ${x.ts}`);
  }
  print(io, `verify host: ${result.exact}/${result.count} bit-exact`);
  return result.exact === result.count ? 0 : 1;
}
