/**
 * What the page fetches besides its code, gathered at build time (Node) from the packages that
 * ship it; the dev server serves the same map and `vite build` emits it into dist/:
 *
 *   model/model.json, model/weights.bin    the shipped float model   (@tinyblocks/models)
 *   data/t10k-*.gz                         the shipped test subset   (@tinyblocks/datasets)
 *   wasm/tfjs-backend-wasm{,-simd}.wasm    tfjs's single-threaded wasm builds (the page loads them
 *                                          with setWasmPaths('wasm/'); the threaded one is never used)
 *   model/report.json                      what `tinyblocks export` reports for it: per-layer
 *   model/reference.int8.json              MACs, weight and activation bytes, arena; the int8 graph
 *
 * The last two come from running the real CLI (`tinyblocks export <model> --out <tmp>`), so the
 * page shows the numbers the CLI prints, from the same code.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

export const MODEL_DIR = join(pkgDir('@tinyblocks/models'), 'model', 'reference');
export const WASM_DIR = join(pkgDir('@tensorflow/tfjs-backend-wasm'), 'dist');
export const SUBSET_DIR = join(pkgDir('@tinyblocks/datasets'), 'data', 'fashion-mnist-subset');
/** The tinyblocks command (package.json bin of @tinyblocks/cli). */
export const CLI_BIN = join(pkgDir('@tinyblocks/cli'), (require('@tinyblocks/cli/package.json') as { bin: { tinyblocks: string } }).bin.tinyblocks);

/** Runs `tinyblocks export` on the shipped model; returns report.json and the int8 graph. */
export function exportShippedModel(): { report: Buffer; graph: Buffer } {
  const out = mkdtempSync(join(tmpdir(), 'tinyblocks-edge-demo-'));
  try {
    const dir = join(out, 'c');
    const r = spawnSync(process.execPath, [CLI_BIN, 'export', MODEL_DIR, '--out', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tinyblocks export ${MODEL_DIR} failed (exit ${r.status}): ${r.stderr || r.error?.message}`);
    return { report: readFileSync(join(dir, 'report.json')), graph: readFileSync(join(dir, 'reference.int8.json')) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** URL path (relative to the page) -> file contents. */
export function shippedAssets(): Record<string, Buffer> {
  const assets: Record<string, Buffer> = {};
  for (const f of ['model.json', 'weights.bin']) assets[`model/${f}`] = readFileSync(join(MODEL_DIR, f));
  for (const f of readdirSync(SUBSET_DIR).filter((f) => f.startsWith('t10k-'))) assets[`data/${f}`] = readFileSync(join(SUBSET_DIR, f));
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) assets[`wasm/${f}`] = readFileSync(join(WASM_DIR, f));
  const { report, graph } = exportShippedModel();
  assets['model/report.json'] = report;
  assets['model/reference.int8.json'] = graph;
  return assets;
}
