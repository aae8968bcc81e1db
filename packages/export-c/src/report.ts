/**
 * report.json: what the export costs, per node and in total, and how the arena plan compares
 * with TFLite's greedy-by-size baseline. Deterministic: no timestamps, fixed key order.
 */
import type { Int8Graph } from '@tinyblocks/int8';
import { tensorSize } from '@tinyblocks/int8';
import type { ArenaPlan, PlanMethod } from '@tinyblocks/plan';

export const EXPORT_REPORT_FORMAT = 'tinyblocks-c-export';
export const EXPORT_REPORT_VERSION = 1;

export interface NodeReport {
  index: number;
  name: string;
  op: string;
  /** Shape of output 0 ([] for a node without outputs). */
  outputShape: number[];
  /** Elements of the node's constant arrays (weights, biases, tables, requantisation constants). */
  params: number;
  /** MACs of one dense execution (OpDef.macs). */
  macs: number;
  /** Bytes of the node's constant arrays. */
  weightBytes: number;
  /** Bytes of the node's output tensors. */
  activationBytes: number;
  /** Arena offset of output 0 (-1: no output). */
  arenaOffset: number;
}

export interface ExportReport {
  format: typeof EXPORT_REPORT_FORMAT;
  version: typeof EXPORT_REPORT_VERSION;
  name: string;
  input: { tensor: number; shape: number[]; bytes: number; scale: number; zeroPoint: number };
  outputs: Array<{ role: string; tensor: number; shape: number[]; bytes: number; scale: number; zeroPoint: number }>;
  numExits: number;
  nodes: NodeReport[];
  totals: {
    /** Flash taken by constant data (sum of the nodes' weightBytes); code size not included. */
    flashDataBytes: number;
    /** Static RAM of the activation arena. */
    arenaBytes: number;
    /** Static RAM of the stream state (delta layers). */
    stateBytes: number;
    /** MACs of one full dense inference. */
    macs: number;
  };
  plan: {
    arenaSize: number;
    /** Arena size TFLite Micro's greedy-by-size planner gets on the same buffers. */
    greedyBySize: number;
    /** arenaSize / greedyBySize (<= 1). */
    ratio: number;
    /** Most bytes alive at one node: no plan can be smaller. */
    lowerBound: number;
    method: PlanMethod;
    align: number;
  };
  /** Files of the export (report.json aside). */
  files: string[];
}

export function buildReport(a: {
  name: string;
  graph: Int8Graph;
  plan: ArenaPlan;
  nodes: NodeReport[];
  weightBytes: number;
  stateBytes: number;
  macs: number;
  exits: number;
  files: string[];
}): ExportReport {
  const t = (id: number) => a.graph.tensors[id]!;
  const inT = t(a.graph.input);
  return {
    format: EXPORT_REPORT_FORMAT,
    version: EXPORT_REPORT_VERSION,
    name: a.name,
    input: { tensor: a.graph.input, shape: [...inT.shape], bytes: tensorSize(inT), scale: inT.scale, zeroPoint: inT.zeroPoint },
    outputs: a.graph.outputs.map((o) => ({
      role: o.role,
      tensor: o.tensor,
      shape: [...t(o.tensor).shape],
      bytes: tensorSize(t(o.tensor)),
      scale: t(o.tensor).scale,
      zeroPoint: t(o.tensor).zeroPoint,
    })),
    numExits: a.exits,
    nodes: a.nodes,
    totals: { flashDataBytes: a.weightBytes, arenaBytes: a.plan.arenaSize, stateBytes: a.stateBytes, macs: a.macs },
    plan: {
      arenaSize: a.plan.arenaSize,
      greedyBySize: a.plan.greedyBySize.arenaSize,
      ratio: a.plan.greedyBySize.arenaSize > 0 ? a.plan.arenaSize / a.plan.greedyBySize.arenaSize : 1,
      lowerBound: a.plan.lowerBound,
      method: a.plan.method,
      align: a.plan.align,
    },
    files: [...a.files],
  };
}
