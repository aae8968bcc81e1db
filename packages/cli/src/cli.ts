import { TinyblocksError } from '@tinyblocks/core';
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

export const USAGE = `usage: tinyblocks <command> [options]

${Object.values(COMMANDS).map((c) => c.help).join('\n\n')}`;

/** Runs the CLI; returns the exit code: 0 ok, 2 bad input (typed error), 1 anything else. */
export async function run(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    print(io, USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`error: unknown command ${JSON.stringify(name)}; expected one of ${Object.keys(COMMANDS).join(', ')}\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    print(io, command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof TinyblocksError) {
      io.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
