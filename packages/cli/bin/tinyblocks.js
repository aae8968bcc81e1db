#!/usr/bin/env node
// The `tinyblocks` command. A committed file rather than dist/bin.js itself, so that `npm ci` in a
// fresh clone (before anything is built) still links it; it then says what to run.
import { existsSync } from 'node:fs';

const bin = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(bin)) {
  process.stderr.write('tinyblocks: @tinyblocks/cli is not built yet (no dist/bin.js): run `npm run build` in the repository root\n');
  process.exit(1);
}
await import(bin.href);
