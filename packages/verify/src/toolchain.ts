/**
 * The host C toolchain: which compiler, the two builds every verification runs, compiling and
 * running a harness (asynchronously, so both builds proceed in parallel).
 */
import { spawn, spawnSync } from 'node:child_process';
import { TinyblocksError } from '@tinyblocks/core/base';

/** Verification could not run: no compiler, a build failed, or a binary crashed (sanitizer report). */
export class VerifyError extends TinyblocksError {}

export interface HostBuild {
  name: string;
  flags: string[];
}

const BASE = ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-O2'];
const STRICT = ['-Wconversion', '-Wsign-conversion', '-Wshadow', '-Wcast-qual', '-Wstrict-prototypes'];
const SANITIZE = ['-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'];

/** -O2 with -Werror and strict warnings; then AddressSanitizer + UndefinedBehaviorSanitizer (aborting on the first report). */
export const VERIFY_BUILDS: readonly HostBuild[] = [
  { name: 'O2-strict', flags: [...BASE, ...STRICT] },
  { name: 'asan-ubsan', flags: [...BASE, ...SANITIZE] },
];

export function defaultCC(): string {
  return process.env['CC'] || 'cc';
}

/** VerifyError saying what to install when `cc` does not run. */
export function requireCC(cc: string, op: string): void {
  const r = spawnSync(cc, ['--version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) {
    throw new VerifyError(
      { op },
      'cc',
      'a C99 compiler on the PATH (Debian/Ubuntu: apt-get install gcc; Fedora: dnf install gcc; macOS: xcode-select --install) or options.cc / $CC naming one',
      cc,
    );
  }
}

interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a process, feeding stdin; resolves with everything it printed. */
export function run(command: string, args: string[], stdin: Uint8Array | null, env?: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => {}); // a crash before reading all input shows up as the exit status
    child.stdin.end(stdin ?? undefined);
  });
}

/** Compiles and links; VerifyError with the compiler's messages on failure. */
export async function compile(op: string, cc: string, build: HostBuild, sources: string[], includeDirs: string[], out: string, extra: string[] = []): Promise<void> {
  const args = [...build.flags, ...extra, ...includeDirs.map((d) => `-I${d}`), ...sources, '-o', out];
  const r = await run(cc, args, null);
  if (r.status !== 0) {
    throw new VerifyError({ op }, `compile (${build.name})`, 'generated C that compiles without warnings', `${cc} ${args.join(' ')}\n${r.stderr.slice(0, 4000)}`);
  }
}

export const SANITIZER_ENV = { UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1', ASAN_OPTIONS: 'detect_leaks=1' };
