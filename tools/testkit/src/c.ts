/**
 * Compile-and-run helpers for tests that compare C against the TypeScript reference.
 * Locally a missing compiler skips those suites with a message; under CI=true it is a failure
 * (call `requireCompiler()` inside the suite so the missing tool shows up as a failed test).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CC = process.env.CC ?? 'cc';
export const CI = process.env.CI === 'true';
export const HAS_CC = spawnSync(CC, ['--version'], { stdio: 'ignore' }).status === 0;
/** true when C suites must be skipped (no compiler and not CI); warns once with what to install. */
export const SKIP_C = !HAS_CC && !CI;
if (SKIP_C) console.warn(`[testkit] C compiler '${CC}' not found: skipping C bit-exactness tests (apt-get install gcc)`);

export const C_BASE = ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-O2'];
export const C_STRICT = ['-Wconversion', '-Wsign-conversion', '-Wshadow', '-Wcast-qual', '-Wstrict-prototypes'];
export const C_SANITIZE = ['-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'];

export interface CBuild {
  name: string;
  flags: string[];
}
/** The two host builds every C test runs: -O2 -Werror (+ strict warnings), and ASan + UBSan. */
export const HOST_BUILDS: CBuild[] = [
  { name: 'O2-Werror', flags: [...C_BASE, ...C_STRICT] },
  { name: 'asan-ubsan', flags: [...C_BASE, ...C_SANITIZE] },
];

/** In a suite: fails (instead of skipping) when the compiler is missing. */
export function requireCompiler(): void {
  if (!HAS_CC) throw new Error(`C compiler '${CC}' not found (required under CI=true; apt-get install gcc)`);
}

export function makeTempDir(prefix = 'tb-c-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CompileOptions {
  /** Source files (paths) to compile and link. */
  sources: string[];
  includeDirs?: string[];
  flags: string[];
  /** Output binary path. */
  out: string;
}

/** Compiles and links with CC; throws an Error carrying the compiler's stderr. */
export function compileC(options: CompileOptions): string {
  const args = [...options.flags, ...(options.includeDirs ?? []).map((d) => `-I${d}`), ...options.sources, '-o', options.out, '-lm'];
  const r = spawnSync(CC, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${CC} ${args.join(' ')}\n${r.stderr}`);
  return options.out;
}

/** Writes `source` to dir/name and compiles it (plus extra sources) into dir/<build name>. */
export function compileDriver(dir: string, name: string, source: string, build: CBuild, extra: Omit<CompileOptions, 'flags' | 'out' | 'sources'> & { sources?: string[] } = {}): string {
  const src = join(dir, name);
  writeFileSync(src, source);
  return compileC({ sources: [src, ...(extra.sources ?? [])], includeDirs: extra.includeDirs ?? [], flags: build.flags, out: join(dir, `${name.replace(/\W+/g, '_')}_${build.name}`) });
}

/** Runs a binary with stdin bytes; returns stdout. Sanitizer reports abort (non-zero exit -> throws). */
export function runBinary(bin: string, input: Uint8Array | string = ''): Buffer {
  return execFileSync(bin, {
    input,
    maxBuffer: 256 << 20,
    env: { ...process.env, UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1', ASAN_OPTIONS: 'detect_leaks=1' },
  });
}
