/** Text reports shared by eval, info and demo. */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelCount } from '@tinyblocks/core';
import { table } from './table.js';
import type { ImageSet } from '@tinyblocks/models';

export function layerTable(counts: ModelCount): string {
  const rows = counts.layers.map((l) => [l.name, l.className, `[${l.outputShape.slice(1).join('x')}]`, l.params, l.macs]);
  rows.push(['total', '', '', counts.totalParams, counts.totalMacs]);
  return table(['layer', 'op', 'output', 'params', 'MACs'], rows);
}

export function earlyExitReport(model: tfl.LayersModel, set: ImageSet): string {
  void model;
  void set;
  return '';
}
