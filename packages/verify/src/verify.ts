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
import { DataError } from '@tinyblocks/core/base';
import { createStream, type Int8Graph, OPS, type RunOptions, type RunOutput, runGraph } from '@tinyblocks/int8';
import { type CCase, type HarnessOutput, interventionsFor, MODES, parseHarnessOutput, verifyHarness, type VerifyMode } from './harness.js';
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

export interface VerifyMismatch {
  frame: number;
  mode: VerifyMode;
  build: string;
  /** What differed: a node's output ('trace'), which nodes ran ('trace order'), or a result field. */
  field: 'trace' | 'trace order' | 'logits' | 'concepts' | 'exitTaken' | 'macs' | 'rc';
  /** The node whose output differs (null for result fields). */
  nodeIndex: number | null;
  node: string | null;
  op: string | null;
  /** Byte index inside the compared array (null for scalar fields). */
  byte: number | null;
  c: number;
  ts: number;
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

interface Expected {
  traces: Array<{ node: number; data: Int8Array }>;
  rc: number;
  exitTaken: number;
  macs: number;
  logits: Int8Array;
  concepts: Int8Array;
}

/** One TS run with every node's outputs recorded, shaped like a C case. */
function reference(numConcepts: number, conceptsIndex: number, run1: (opts: RunOptions) => RunOutput): Expected {
  const traces: Expected['traces'] = [];
  const out = run1({ onNode: (_n, index, outputs) => outputs.forEach((data) => traces.push({ node: index, data: data.slice() })) });
  const concepts = conceptsIndex >= 0 ? (out.outputs[conceptsIndex] ?? new Int8Array(numConcepts)) : new Int8Array(0);
  return { traces, rc: 0, exitTaken: out.exitTaken, macs: out.macs >>> 0, logits: out.logits, concepts };
}

function firstDiff(a: Int8Array, b: Int8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function compareCase(graph: Int8Graph, c: CCase, e: Expected, build: string): VerifyMismatch | null {
  const base = { frame: c.frame, mode: c.mode, build };
  const nodeInfo = (i: number) => ({ nodeIndex: i, node: graph.nodes[i]?.name ?? null, op: graph.nodes[i]?.op ?? null });
  const scalar = { nodeIndex: null, node: null, op: null, byte: null };
  if (c.rc !== e.rc) return { ...base, field: 'rc', ...scalar, c: c.rc, ts: e.rc };
  const n = Math.max(c.traces.length, e.traces.length);
  for (let k = 0; k < n; k++) {
    const ct = c.traces[k];
    const et = e.traces[k];
    if (!ct || !et || ct.node !== et.node) {
      const at = et?.node ?? ct!.node;
      return { ...base, field: 'trace order', ...nodeInfo(at), byte: null, c: ct?.node ?? -1, ts: et?.node ?? -1 };
    }
    const d = firstDiff(ct.data, et.data);
    if (d >= 0) return { ...base, field: 'trace', ...nodeInfo(et.node), byte: d, c: ct.data[d] ?? NaN, ts: et.data[d] ?? NaN };
  }
  if (c.exitTaken !== e.exitTaken) return { ...base, field: 'exitTaken', ...scalar, c: c.exitTaken, ts: e.exitTaken };
  const dl = firstDiff(c.logits, e.logits);
  if (dl >= 0) return { ...base, field: 'logits', ...scalar, byte: dl, c: c.logits[dl] ?? NaN, ts: e.logits[dl] ?? NaN };
  const dc = firstDiff(c.concepts, e.concepts);
  if (dc >= 0) return { ...base, field: 'concepts', ...scalar, byte: dc, c: c.concepts[dc] ?? NaN, ts: e.concepts[dc] ?? NaN };
  if (c.macs !== e.macs) return { ...base, field: 'macs', ...scalar, c: c.macs, ts: e.macs };
  return null;
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

  const modes: VerifyMode[] = numConcepts > 0 ? [...MODES] : MODES.filter((m) => m !== 'intervene');
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
    const conceptsIndex = graph.outputs.findIndex((o) => o.role === 'concepts');
    const iv = interventionsFor(numConcepts);
    const expected = new Map<string, Expected>();
    inputs.forEach((x, f) => {
      expected.set(`full:${f}`, reference(numConcepts, conceptsIndex, (o) => runGraph(graph, x, o)));
      expected.set(`exits:${f}`, reference(numConcepts, conceptsIndex, (o) => runGraph(graph, x, { ...o, exits: true })));
      if (numConcepts > 0) expected.set(`intervene:${f}`, reference(numConcepts, conceptsIndex, (o) => runGraph(graph, x, { ...o, interventions: iv })));
    });
    const stream = createStream(graph);
    inputs.forEach((x, f) => expected.set(`stream:${f}`, reference(numConcepts, conceptsIndex, (o) => stream.run(x, o))));

    await compiled;
    const outputs: HarnessOutput[] = await Promise.all(
      VERIFY_BUILDS.map(async (b, i) => {
        progress({ phase: 'run', build: b.name });
        const r = await run(bins[i]!, [], stdin, { ...process.env, ...SANITIZER_ENV });
        if (r.status !== 0) {
          throw new VerifyError({ op }, `run (${b.name})`, 'the harness to exit with status 0', `status ${r.status ?? r.signal}\n${r.stderr.slice(0, 4000)}`);
        }
        const parsed = parseHarnessOutput(r.stdout, `verify harness (${b.name})`);
        const want = [model.inputSize, model.outputSize, numConcepts, graph.nodes.length];
        const got = [parsed.inputSize, parsed.outputSize, parsed.numConcepts, parsed.numNodes];
        if (want.some((v, k) => v !== got[k])) {
          throw new DataError({ file: join(model.dir, `${name}_model.h`) }, 'INPUT_SIZE, OUTPUT_SIZE, NUM_CONCEPTS, NUM_NODES', `${want.join(', ')} (from ${name}.int8.json)`, got.join(', '), 'the C files and the graph are from different exports');
        }
        if (parsed.cases.length !== inputs.length * modes.length) {
          throw new DataError({ file: `verify harness (${b.name})` }, 'cases', `${inputs.length * modes.length}`, parsed.cases.length);
        }
        return parsed;
      }),
    );

    progress({ phase: 'compare' });
    const byKey = outputs.map((o) => new Map(o.cases.map((c) => [`${c.mode}:${c.frame}`, c])));
    let exact = 0;
    let firstMismatch: VerifyMismatch | undefined;
    for (let f = 0; f < inputs.length; f++) {
      let ok = true;
      for (const mode of modes) {
        for (let b = 0; b < VERIFY_BUILDS.length; b++) {
          const c = byKey[b]!.get(`${mode}:${f}`);
          const e = expected.get(`${mode}:${f}`)!;
          if (!c) throw new DataError({ file: `verify harness (${VERIFY_BUILDS[b]!.name})` }, 'cases', `a ${mode} case for frame ${f}`, 'none');
          const m = compareCase(graph, c, e, VERIFY_BUILDS[b]!.name);
          if (m) {
            ok = false;
            firstMismatch ??= m;
          }
        }
      }
      if (ok) exact++;
    }

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
  const m = result.firstMismatch;
  if (!m) return line;
  const at = m.nodeIndex !== null ? `node ${m.nodeIndex} ${m.node} (${m.op})` : m.field;
  const byte = m.byte !== null ? ` byte ${m.byte}` : '';
  return `${line}; first mismatch: frame ${m.frame}, ${m.mode}, ${m.build}, ${at}${m.field === 'trace order' ? ' (different nodes ran)' : ''}${byte}: C ${m.c} vs TS ${m.ts}`;
}
