/** Shared by the CLI tests: the CLI run in-process with its output captured, a temp folder, the C compiler check. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';
import { run } from './cli.js';

/** Runs `tinyblocks <argv>` in this process; exit code, stdout and stderr. */
export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

/** A temp folder removed after the test file. */
export function testDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const HAS_CC = spawnSync(process.env.CC ?? 'cc', ['--version'], { stdio: 'ignore' }).status === 0;
/** C tests skip without a compiler locally; under CI=true they run (and fail without one). */
export const SKIP_C = !HAS_CC && process.env.CI !== 'true';
