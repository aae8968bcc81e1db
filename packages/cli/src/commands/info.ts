import { ConfigError, countModel, initBackend } from '@tinyblocks/core';
import { modelInfo } from '@tinyblocks/models';
import { parse } from '../args.js';
import { loadUserModel, print, type Io } from '../io.js';
import { layerTable } from '../reports.js';

export const INFO_HELP = `tinyblocks info <model dir>
  prints every layer with its output shape, parameters and multiply-accumulates per image`;

export async function infoCommand(argv: string[], io: Io): Promise<number> {
  const { positionals } = parse('info', argv, {});
  if (positionals.length !== 1) throw new ConfigError({ op: 'tinyblocks info' }, '<model dir>', 'one model directory', positionals);
  await initBackend('cpu');
  const model = await loadUserModel(positionals[0]!, io);
  const info = modelInfo(model);
  print(io, `${positionals[0]} (${info.arch}), outputs: ${info.outputRoles.join(', ')}`, '', layerTable(countModel(model)));
  return 0;
}
