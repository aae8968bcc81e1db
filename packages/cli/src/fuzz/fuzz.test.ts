/**
 * Seeded mutation fuzz of the shipped model folder (model.json and weights.bin), run in a worker
 * process so a hang is caught and killed rather than stalling the suite. FUZZ_COUNT mutations per
 * mode (default 60 in CI; `FUZZ_COUNT=1000 npx vitest run src/fuzz` locally), FUZZ_SEED to move.
 *
 * - 'saved' (the integrity record saveModel writes kept): every mutation that changes the
 *   model's outputs must be a typed error: zero silent successes with different outputs.
 * - 'foreign' (record removed, as for a model from another tool): zero hangs, zero untyped
 *   errors. A mutated weight value that stays finite and plausible is a different, valid model
 *   there: counted and printed, not an error (nothing can tell it from the original).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { shippedModelDir } from '@tinyblocks/models';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../cli.js';
import { type Mutation, mutateGraphText, mutateModel } from './mutate.js';

const COUNT = Number(process.env.FUZZ_COUNT ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const CASE_SECONDS = 10;
const worker = path.resolve(import.meta.dirname, '..', '..', 'test', 'fuzz-worker.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyblocks-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Result { mutation: Mutation; status: 'typed' | 'untyped' | 'same' | 'different' | 'hang'; message: string; ms: number }

/** Runs the worker over `dirs`; a case with no answer in CASE_SECONDS is a hang (worker killed, restarted after it). */
function runCases(dirs: string[], original = shippedModelDir(), mode = 'model'): Promise<Array<Omit<Result, 'mutation'>>> {
  const results: Array<Omit<Result, 'mutation'>> = [];
  const start = (from: number): Promise<void> => new Promise((resolve, reject) => {
    if (from >= dirs.length) return resolve();
    const list = path.join(tmp, `list-${from}.txt`);
    fs.writeFileSync(list, dirs.slice(from).join('\n'));
    const child = spawn(process.execPath, [worker, original, list, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let current = -1;
    let timer: NodeJS.Timeout | undefined;
    let stderr = '';
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        results[from + current] = { status: 'hang', message: `no answer in ${CASE_SECONDS} s`, ms: CASE_SECONDS * 1000 };
        child.kill('SIGKILL');
      }, (current < 0 ? 60 : CASE_SECONDS) * 1000);
    };
    arm();
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if ('start' in line) {
          current = line.start;
          arm();
        } else results[from + line.done] = { status: line.status, message: line.message, ms: line.ms };
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (results[from + current]?.status === 'hang') return start(from + current + 1).then(resolve, reject);
      if (code !== 0) return reject(new Error(`fuzz worker exited ${code}: ${stderr.slice(-2000)}`));
      resolve();
    });
  });
  return start(0).then(() => results);
}

async function fuzz(mode: 'saved' | 'foreign'): Promise<Result[]> {
  const mutations: Mutation[] = [];
  const dirs: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const dir = path.join(tmp, `${mode}-${i}`);
    mutations.push(mutateModel(shippedModelDir(), dir, SEED * 100_003 + i, mode));
    dirs.push(dir);
  }
  const results = await runCases(dirs);
  return results.map((r, i) => ({ ...r, mutation: mutations[i]! }));
}

function summary(mode: string, rs: Result[]): string {
  const by = (s: string) => rs.filter((r) => r.status === s).length;
  const slowest = Math.max(...rs.map((r) => r.ms));
  return `fuzz ${mode}: ${rs.length} mutations: ${by('typed')} typed errors, ${by('same')} same outputs, ${by('different')} different outputs, ${by('untyped')} untyped errors, ${by('hang')} hangs; slowest ${slowest} ms`;
}

const bad = (rs: Result[], ...statuses: string[]) => rs.filter((r) => statuses.includes(r.status)).map((r) => `${r.status} (seed ${r.mutation.seed}, ${r.mutation.describe}): ${r.message}`);

describe('mutation fuzz of the shipped model', () => {
  it(`'saved' mode: ${COUNT} mutations, every changed model refused with a typed error`, async () => {
    const rs = await fuzz('saved');
    console.log(summary('saved', rs));
    expect(rs).toHaveLength(COUNT);
    expect(bad(rs, 'hang', 'untyped', 'different')).toEqual([]);
  }, 120_000 + COUNT * 3_000);

  it(`'foreign' mode: ${COUNT} mutations, zero hangs and zero untyped errors`, async () => {
    const rs = await fuzz('foreign');
    console.log(summary('foreign', rs));
    if (process.env.FUZZ_VERBOSE) for (const r of rs) console.log(`${r.status} ${r.mutation.seed} ${r.mutation.describe}: ${r.message}`);
    expect(rs).toHaveLength(COUNT);
    expect(bad(rs, 'hang', 'untyped')).toEqual([]);
    expect(Math.max(...rs.map((r) => r.ms))).toBeLessThan(CASE_SECONDS * 1000);
  }, 120_000 + COUNT * 3_000);

  it(`export folders as verify reads them: ${COUNT} int8-graph mutations, zero hangs and zero untyped errors`, async () => {
    const exportDir = path.join(tmp, 'export');
    const io = { stdout: { write: () => true }, stderr: { write: () => true } };
    expect(await run(['export', shippedModelDir(), '--out', exportDir, '--calib-count', '100'], io)).toBe(0);
    const graphFile = fs.readdirSync(exportDir).find((f) => f.endsWith('.int8.json'))!;
    const text = fs.readFileSync(path.join(exportDir, graphFile), 'utf8');
    const mutations: Mutation[] = [];
    const dirs: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const dir = path.join(tmp, `graph-${i}`);
      fs.cpSync(exportDir, dir, { recursive: true });
      const m = mutateGraphText(text, SEED * 100_003 + i);
      fs.writeFileSync(path.join(dir, graphFile), m.text);
      mutations.push({ seed: SEED * 100_003 + i, mode: 'foreign', describe: m.describe });
      dirs.push(dir);
    }
    const rs = (await runCases(dirs, exportDir, 'export')).map((r, i) => ({ ...r, mutation: mutations[i]! }));
    console.log(summary('export', rs));
    expect(rs).toHaveLength(COUNT);
    expect(bad(rs, 'hang', 'untyped')).toEqual([]);
  }, 120_000 + COUNT * 3_000);
});
