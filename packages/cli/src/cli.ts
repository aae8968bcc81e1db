import { TinyblocksError } from '@tinyblocks/core';
import { fsError, isFsError } from '@tinyblocks/core/node';
import { evalCommand, EVAL_HELP } from './commands/eval.js';
import { infoCommand, INFO_HELP } from './commands/info.js';
import { train, TRAIN_HELP } from './commands/train.js';
import { demo, DEMO_HELP } from './commands/demo.js';
import { exportCommand, EXPORT_HELP } from './commands/export.js';
import { verifyCommand, VERIFY_HELP } from './commands/verify.js';
import { qatCommand, QAT_HELP } from './commands/qat.js';
import { exitsCommand, EXITS_HELP } from './commands/exits.js';
import { print, type Io } from './io.js';

const COMMANDS: Record<string, { run: (argv: string[], io: Io) => Promise<number>; help: string }> = {
  train: { run: train, help: TRAIN_HELP },
  eval: { run: evalCommand, help: EVAL_HELP },
  info: { run: infoCommand, help: INFO_HELP },
  export: { run: exportCommand, help: EXPORT_HELP },
  verify: { run: verifyCommand, help: VERIFY_HELP },
  qat: { run: qatCommand, help: QAT_HELP },
  'retrain-exits': { run: exitsCommand, help: EXITS_HELP },
  demo: { run: demo, help: DEMO_HELP },
};

export const USAGE = `usage: tinyblocks <command> [options] [--debug]
  Bad input ends with one line naming the file, field or flag (exit 2); --debug adds stack traces.
  Commands that write (--out) never delete or change a file they did not write: the folder must
  be new, empty, or their own previous output (tinyblocks-manifest.json lists its files).

${Object.values(COMMANDS).map((c) => c.help).join('\n\n')}`;

/**
 * The one error path: a typed error (bad input: a file, field or flag named, expected vs got) is
 * one line and exit 2; a file-system error becomes one too (which path, what was expected). Any
 * other failure is a bug or an input not yet checked: one line, exit 1, and the stack trace only
 * with --debug.
 */
export function reportError(err: unknown, io: Io, debug: boolean): number {
  const typed = err instanceof TinyblocksError ? err : isFsError(err) ? fsError(err, err.path ?? '(unknown path)', 'a path tinyblocks can read or write') : undefined;
  if (typed) {
    io.stderr.write(`error: ${typed.message}\n`);
    if (debug && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`error: internal error: ${message.split('\n')[0]!.slice(0, 300)}\n`);
  io.stderr.write(debug && err instanceof Error && err.stack ? `${err.stack}\n` : '(a bug in tinyblocks, or an input it does not check yet: please report it; --debug shows the stack trace)\n');
  return 1;
}

/** Runs the CLI; returns the exit code: 0 ok, 2 bad input (typed error), 1 anything else. */
export async function run(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const debug = argv.includes('--debug');
  const [name, ...rest] = argv.filter((a) => a !== '--debug');
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    print(io, USAGE);
    return name ? 0 : 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr.write(`error: unknown command ${JSON.stringify(name.slice(0, 60))}; expected one of ${Object.keys(COMMANDS).join(', ')} (tinyblocks --help lists their options)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    print(io, command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    return reportError(err, io, debug);
  }
}
