import { reportError, run } from './cli.js';

const io = { stdout: process.stdout, stderr: process.stderr };
const debug = process.argv.includes('--debug');
// anything thrown outside run()'s own catch (a stray callback) ends the same way: one line, no stack
const fail = (err: unknown) => {
  process.exitCode = reportError(err, io, debug);
  process.exit();
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

run(process.argv.slice(2), io).then((code) => {
  process.exitCode = code;
}, fail);
