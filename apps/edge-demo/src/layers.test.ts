/**
 * The per-layer MAC and memory chart shows the numbers the CLI reports: report.json of a fresh
 * `tinyblocks export` run on the shipped model (int8 nodes, totals, arena plan), and the float
 * layer counts `tinyblocks info` prints.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countModel } from '@tinyblocks/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, MODEL_DIR } from '../assets.js';
import { openDemo, SKIP, type DemoPage } from '../test/browser.js';
import { nodeModel } from '../test/node-reference.js';
import type { LayerState } from './state.js';

let demo: DemoPage;
let layers: LayerState;
const tmp = mkdtempSync(join(tmpdir(), 'edge-demo-layers-'));

beforeAll(async () => {
  if (SKIP) return;
  demo = await openDemo();
  layers = (await demo.until('s.layers !== null')).layers!;
});
afterAll(async () => {
  await demo?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const int = (n: number) => n.toLocaleString('en-US');

describe.skipIf(SKIP)('layers chart', () => {
  it('is the report of `tinyblocks export` on the shipped model, node for node', async () => {
    const out = join(tmp, 'c');
    const r = spawnSync(process.execPath, [CLI_BIN, 'export', MODEL_DIR, '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(layers.report).toEqual(report);
    // what the CLI prints, the page shows
    const t = report.totals;
    expect(r.stdout).toContain(`flash: ${int(t.flashDataBytes)} bytes`);
    const totals = await demo.page.textContent('#layerTotals');
    expect(totals).toContain(`flash ${int(t.flashDataBytes)} bytes`);
    expect(totals).toContain(`peak SRAM ${int(t.arenaBytes + t.stateBytes)} bytes`);
    expect(totals).toContain(`${int(t.macs)} MACs per image`);
    expect(await demo.page.locator('#layerChart tr[data-node]').count()).toBe(report.nodes.length);
    for (const n of report.nodes) {
      const cells = await demo.page.locator(`#layerChart tr[data-node="${n.name}"] td.num`).allTextContents();
      expect(cells).toEqual([String(n.index), int(n.macs), int(n.weightBytes), int(n.activationBytes), n.arenaOffset < 0 ? '-' : `+${n.arenaOffset}`]);
    }
  });

  it('lists the float layers as `tinyblocks info` counts them', async () => {
    const counts = countModel(await nodeModel());
    expect(layers.float).toEqual(JSON.parse(JSON.stringify(counts.layers)));
    const info = spawnSync(process.execPath, [CLI_BIN, 'info', MODEL_DIR], { encoding: 'utf8' });
    expect(info.status).toBe(0);
    expect(info.stdout).toMatch(new RegExp(`total\\s+${int(counts.totalParams)}\\s+${int(counts.totalMacs)}`));
    const total = await demo.page.locator('#floatLayers tr.top td.num').allTextContents();
    expect(total.slice(0, 2)).toEqual([int(counts.totalParams), int(counts.totalMacs)]);
  });
});
