/**
 * verifyHost: proves an export bit-exact with the TypeScript reference on this machine.
 *
 * The export folder's graph (`<name>.int8.json`) runs in the TS interpreter; the export's C files
 * are compiled with a harness (in a temporary folder; the export is not touched) twice — -O2 with
 * -Werror and strict warnings, and ASan + UBSan — and run on the same frames. Every node's output
 * (TB_TRACE), the answer, exit taken, MACs and concept codes are compared byte for byte in four
 * modes: full (no exits), exits, intervene (when the model has concepts) and stream.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPS } from '@tinyblocks/int8';
import {
  type CaseMismatch,
  checkHarnessOutput,
  compareRuns,
  describeMismatch,
  type HarnessOutput,
  modesFor,
  parseHarnessOutput,
  referenceCases,
  verifyHarness,
  type VerifyMode,
} from './harness.js';
import { packFrames, readModelDir } from './model-dir.js';
import { compile, defaultCC, requireCC, run, SANITIZER_ENV, VERIFY_BUILDS, VerifyError } from './toolchain.js';

export type { VerifyMode } from './harness.js';

export interface VerifyProgress {
  phase: 'reference' | 'compile' | 'run' | 'compare';
  build?: string;
}

export interface VerifyOptions {
  /** C compiler (default $CC or `cc`). */
  cc?: string;
  onProgress?: (event: VerifyProgress) => void;
}

/** Where the C first differs from TS (see CaseMismatch), and in which build. */
export interface VerifyMismatch extends CaseMismatch {
  build: string;
}

export interface VerifyResult {
  name: string;
  /** Frames verified. */
  count: number;
  /** Frames with every byte equal in every mode and build. */
  exact: number;
  builds: string[];
  modes: VerifyMode[];
  firstMismatch?: VerifyMismatch;
  /** Average MACs per frame executed by the C code (first build), and the dense count. */
  macs: { dense: number; full: number; exits: number; stream: number; intervene?: number };
  /** Frames where the exits mode answered from an exit head. */
  exitsTaken: number;
  seconds: number;
}

/** Compiles the export with the verify harness, runs it on `inputs` and compares with TS. */
export async function verifyHost(outDir: string, inputs: readonly Int8Array[], options: VerifyOptions = {}): Promise<VerifyResult> {
  const t0 = performance.now();
  const op = 'verifyHost';
  const model = readModelDir(outDir);
  const { graph, name, numConcepts } = model;
  const stdin = packFrames(op, inputs, model.inputSize);
  const cc = options.cc ?? defaultCC();
  requireCC(cc, op);
  const progress = options.onProgress ?? (() => {});

  const modes = modesFor(numConcepts);
  const tmp = mkdtempSync(join(tmpdir(), 'tb-verify-'));
  try {
    writeFileSync(join(tmp, 'verify_main.c'), verifyHarness(name, numConcepts));
    // compile both builds (in parallel) while the TS reference runs
    progress({ phase: 'compile' });
    const bins = VERIFY_BUILDS.map((b) => join(tmp, `verify_${b.name}`));
    const compiled = Promise.all(
      VERIFY_BUILDS.map((b, i) => compile(op, cc, b, [join(tmp, 'verify_main.c'), ...model.sources], [model.dir], bins[i]!, ['-DTB_TRACE=verify_trace'])),
    );
    compiled.catch(() => {}); // awaited below

    progress({ phase: 'reference' });
    const expected = referenceCases(graph, inputs, numConcepts, modes);

    await compiled;
    const outputs: HarnessOutput[] = await Promise.all(
      VERIFY_BUILDS.map(async (b, i) => {
        progress({ phase: 'run', build: b.name });
        const r = await run(bins[i]!, [], stdin, { ...process.env, ...SANITIZER_ENV });
        if (r.status !== 0) {
          throw new VerifyError({ op }, `run (${b.name})`, 'the harness to exit with status 0', `status ${r.status ?? r.signal}\n${r.stderr.slice(0, 4000)}`);
        }
        const what = `verify harness (${b.name})`;
        const parsed = parseHarnessOutput(r.stdout, what);
        checkHarnessOutput(parsed, model, inputs.length, modes, what);
        return parsed;
      }),
    );

    progress({ phase: 'compare' });
    const runs = outputs.map((output, b) => ({ output, extra: { build: VERIFY_BUILDS[b]!.name }, what: `verify harness (${VERIFY_BUILDS[b]!.name})` }));
    const { exact, firstMismatch } = compareRuns(graph, modes, inputs.length, runs, expected);

    const avg = (mode: VerifyMode) => {
      const cs = outputs[0]!.cases.filter((c) => c.mode === mode);
      return cs.reduce((s, c) => s + c.macs, 0) / Math.max(1, cs.length);
    };
    const dense = graph.nodes.reduce((s, n) => s + OPS.get(n.op)!.macs(n, graph), 0);
    return {
      name,
      count: inputs.length,
      exact,
      builds: VERIFY_BUILDS.map((b) => b.name),
      modes,
      ...(firstMismatch ? { firstMismatch } : {}),
      macs: { dense, full: avg('full'), exits: avg('exits'), stream: avg('stream'), ...(numConcepts > 0 ? { intervene: avg('intervene') } : {}) },
      exitsTaken: outputs[0]!.cases.filter((c) => c.mode === 'exits' && c.exitTaken >= 0).length,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** `verify host: 8/8 bit-exact`, plus where the first mismatch is when there is one. */
export function formatVerifyLine(result: VerifyResult): string {
  const line = `verify host: ${result.exact}/${result.count} bit-exact`;
  return result.firstMismatch ? `${line}; first mismatch: ${describeMismatch(result.firstMismatch)}` : line;
}
