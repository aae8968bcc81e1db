/**
 * Per-layer MACs and memory. The chart is `tinyblocks export`'s report.json for the shipped
 * model (int8 nodes: MACs, weight bytes in flash, activation bytes in the arena, arena offset);
 * the float table is countModel, what `tinyblocks info` prints.
 */
import type { LayerCount } from '@tinyblocks/core';
import type { ExportReport } from '@tinyblocks/export-c';
import { $, bar, esc, int } from './dom.js';
import type { PageState } from './state.js';

export function showLayers(state: PageState, float: LayerCount[], report: ExportReport): void {
  state.layers = { float, report };
  const maxMacs = Math.max(...report.nodes.map((n) => n.macs));
  const maxBytes = Math.max(...report.nodes.flatMap((n) => [n.weightBytes, n.activationBytes]));
  const t = report.totals;
  const p = report.plan;
  $('layerTotals').innerHTML =
    `int8 export (tinyblocks export): <b>${int(t.macs)}</b> MACs per image, flash <b>${int(t.flashDataBytes)}</b> bytes of weights and tables, ` +
    `peak SRAM <b>${int(t.arenaBytes + t.stateBytes)}</b> bytes (arena ${int(t.arenaBytes)} + delta state ${int(t.stateBytes)}); ` +
    `arena plan ${int(p.arenaSize)} vs greedy-by-size ${int(p.greedyBySize)}, lower bound ${int(p.lowerBound)}`;
  const rows = report.nodes.map(
    (n) =>
      `<tr data-node="${esc(n.name)}"><td class="num">${n.index}</td><td>${esc(n.name)}</td><td>${esc(n.op)}</td><td>[${n.outputShape.join(',')}]</td>` +
      `<td class="num">${int(n.macs)}</td><td>${bar(n.macs / maxMacs, 140)}</td>` +
      `<td class="num">${int(n.weightBytes)}</td><td>${bar(n.weightBytes / maxBytes, 120, 'w')}</td>` +
      `<td class="num">${int(n.activationBytes)}</td><td>${bar(n.activationBytes / maxBytes, 120, 'a')}</td>` +
      `<td class="num">${n.arenaOffset < 0 ? '-' : `+${n.arenaOffset}`}</td></tr>`,
  );
  $('layerChart').innerHTML =
    `<table><tr><th class="num">#</th><th>layer</th><th>op</th><th>output</th><th class="num">MACs</th><th></th>` +
    `<th class="num">weight B</th><th></th><th class="num">act B</th><th></th><th class="num">arena</th></tr>${rows.join('')}</table>`;
  const floatRows = float.map((l) => `<tr><td>${esc(l.name)}</td><td>${esc(l.className)}</td><td>[${l.outputShape.slice(1).join('x')}]</td><td class="num">${int(l.params)}</td><td class="num">${int(l.macs)}</td><td class="num">${int(l.params * 4)}</td></tr>`);
  const total = (f: (l: LayerCount) => number) => int(float.reduce((a, l) => a + f(l), 0));
  $('floatLayers').innerHTML =
    `<tr><th>layer</th><th>op</th><th>output</th><th class="num">params</th><th class="num">MACs</th><th class="num">float32 B</th></tr>${floatRows.join('')}` +
    `<tr class="top"><td>total</td><td></td><td></td><td class="num">${total((l) => l.params)}</td><td class="num">${total((l) => l.macs)}</td><td class="num">${total((l) => l.params * 4)}</td></tr>`;
}
