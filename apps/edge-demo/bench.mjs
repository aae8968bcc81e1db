// npm run bench (edge demo): the production build's size, and in headless Chromium the time from
// navigation to the first prediction and per-image inference, wasm against the cpu backend
// (?backend=cpu) measured in the same run. Each load is cold: a fresh browser context.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { table } from '@tinyblocks/cli';
import { build, DIST, startServer } from './serve.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const LOADS = QUICK ? 3 : 7;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const TARGET_MS = 1500;

const kB = (n) => `${(n / 1024).toFixed(1)} kB`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log('## Edge demo (apps/edge-demo): production build, then headless Chromium');
const t0 = performance.now();
build({ quiet: true });
const buildSeconds = (performance.now() - t0) / 1000;

const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (statSync(file).isDirectory()) walk(file);
    else files.push(file);
  }
};
walk(DIST);
const group = (rel) =>
  rel.endsWith('.js') ? 'javascript' : rel.endsWith('-simd.wasm') ? 'wasm, SIMD build (the one loaded)' : rel.endsWith('.wasm') ? 'wasm, plain build (no-SIMD browsers)' : rel.startsWith('data/') ? 'test images (2,000) + labels' : rel.endsWith('.int8.json') || rel.endsWith('report.json') ? 'int8 graph + export report' : rel.startsWith('model/') ? 'float model' : 'html';
const sizes = new Map();
for (const file of files) {
  const rel = relative(DIST, file);
  const bytes = readFileSync(file);
  const g = group(rel);
  const s = sizes.get(g) ?? { files: 0, raw: 0, gzip: 0 };
  s.files++;
  s.raw += bytes.length;
  s.gzip += rel.endsWith('.gz') ? bytes.length : gzipSync(bytes).length;
  sizes.set(g, s);
}
const rows = [...sizes].map(([g, s]) => [g, s.files, kB(s.raw), kB(s.gzip)]);
const total = [...sizes.values()].reduce((a, s) => ({ raw: a.raw + s.raw, gzip: a.gzip + s.gzip }), { raw: 0, gzip: 0 });
rows.push(['total dist/', files.length, kB(total.raw), kB(total.gzip)]);
console.log(table(['what', 'files', 'bytes', 'gzip'], rows));
console.log(`vite build (with tinyblocks export of the model) in ${buildSeconds.toFixed(1)} s`);

if (!existsSync(CHROMIUM)) {
  console.log(`no Chromium at ${CHROMIUM}: browser timings skipped (apt-get install --no-install-recommends chromium)`);
  process.exit(0);
}

const server = await startServer({ port: 0 });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });

/** One cold load: navigation -> first prediction, plus what the page fetched before it. */
async function load(query) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(server.url + query);
  await page.waitForFunction(() => window.__tinyblocks?.ready || window.__tinyblocks?.error, null, { timeout: 120_000 });
  const s = await page.evaluate(() => {
    const t = window.__tinyblocks.timings;
    // bytes of the document and every resource that finished before the first prediction
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    const bytes = entries.filter((e) => e.responseEnd <= t.firstPrediction).reduce((a, e) => a + e.encodedBodySize, 0);
    return { error: window.__tinyblocks.error, backend: window.__tinyblocks.backend, t, bytes };
  });
  if (s.error) throw new Error(`the page failed (${query || 'wasm'}): ${s.error}`);
  const bytesBeforeFirst = s.bytes;
  const perImage = await page.evaluate((n) => window.__tinyblocks.api.timeInference(n), QUICK ? 10 : 40);
  await ctx.close();
  return { ...s.t, perImage, bytesBeforeFirst, backend: s.backend };
}

const runs = { wasm: [], cpu: [] };
for (let i = 0; i < LOADS; i++) {
  runs.wasm.push(await load(''));
  runs.cpu.push(await load('?backend=cpu'));
}
await browser.close();
await server.close();

const m = (b, k) => median(runs[b].map((r) => r[k]));
const timing = [
  ['backend ready', 'backendReady'],
  ['model + test images loaded', 'modelLoaded'],
  ['first prediction', 'firstPrediction'],
].map(([label, k]) => [label, `${m('wasm', k).toFixed(0)} ms`, `${m('cpu', k).toFixed(0)} ms`]);
timing.push(['one inference (batch 1)', `${m('wasm', 'perImage').toFixed(2)} ms`, `${m('cpu', 'perImage').toFixed(2)} ms`]);
console.log(`\nheadless Chromium, ${LOADS} cold loads each (median), ms after navigation start:`);
console.log(table(['', 'wasm', 'cpu (?backend=cpu)'], timing));
const ttfp = m('wasm', 'firstPrediction');
console.log(`time to first prediction on wasm: ${ttfp.toFixed(0)} ms (target <= ${TARGET_MS} ms: ${ttfp <= TARGET_MS ? 'met' : 'MISSED'}); cpu / wasm: ${(m('cpu', 'firstPrediction') / ttfp).toFixed(2)}x`);
console.log(`inference, batch 1: wasm ${(m('cpu', 'perImage') / m('wasm', 'perImage')).toFixed(1)}x faster than cpu in the browser`);
console.log(`fetched before the first prediction (wasm): ${kB(m('wasm', 'bytesBeforeFirst'))} (the int8 graph, report and curve load after it)`);
