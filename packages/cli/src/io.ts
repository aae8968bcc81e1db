import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError } from '@tinyblocks/core';
import { checkOutDir, loadModel, type OutDirState } from '@tinyblocks/core/node';

export interface Io {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

export const print = (io: Io, ...lines: string[]) => io.stdout.write(lines.map((l) => `${l}\n`).join(''));

export const warn = (io: Io, message: string) => io.stderr.write(`warning: ${message}\n`);

/** loadModel (every file checked before tfjs sees it) with its plausibility warnings on stderr. */
export function loadUserModel(dir: string, io: Io): Promise<tfl.LayersModel> {
  return loadModel(dir, { onWarning: (w) => warn(io, w) });
}

/**
 * The `--out` check every writing command makes before any work: the folder must be new, empty
 * or its own previous output of this kind (see core's writeOutDir).
 */
export function outFolder(command: string, values: { out?: string | undefined; force?: string | undefined }, kind: 'model' | 'c-export'): OutDirState & { force: boolean } {
  if (values.out === undefined || values.out === '') throw new ConfigError({ op: `tinyblocks ${command}` }, '--out', 'an output directory', values.out);
  const force = values.force === 'true';
  return { ...checkOutDir(values.out, { kind, force }), force };
}

/** "kept 2 files you added: board.c, notes.txt" (nothing when there were none). */
export function keptLine(state: OutDirState): string[] {
  const n = state.userFiles.length;
  return n === 0 ? [] : [`kept ${n} file${n === 1 ? '' : 's'} you added: ${state.userFiles.slice(0, 8).join(', ')}${n > 8 ? ', ...' : ''}`];
}
