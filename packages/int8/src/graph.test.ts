import { DataError } from '@tinyblocks/core/base';
import { describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64 } from './base64.js';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, parseGraph, serializeGraph, type Int8Graph } from './graph.js';
import { lowerLut } from './ops/lut.js';
import { runGraph } from './interpreter.js';

/** A two-tensor graph: one lut node (table from tanh). */
function lutGraph(): Int8Graph {
  const tensors = [
    { name: 'x', shape: [5], scale: 0.05, zeroPoint: -3 },
    { name: 'y', shape: [5], scale: 1 / 128, zeroPoint: 0 },
  ];
  const node = lowerLut({ name: 'act', inputs: [0], outputs: [1], in: tensors[0]!, out: tensors[1]!, fn: Math.tanh, fnName: 'tanh' });
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors, nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'logits' }], meta: {} };
}

describe('base64 (atob/btoa, no Buffer)', () => {
  it('encodes and decodes as Node Buffer does, at every length mod 3 and across chunk boundaries', () => {
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    for (const n of [0, 1, 2, 3, 4, 5, 31, 32, 33, 0x8000 - 1, 0x8000, 0x8000 + 1, 100_003]) {
      const bytes = Uint8Array.from({ length: n }, next);
      const text = bytesToBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64'));
      expect(base64ToBytes(text)).toEqual(bytes);
    }
  });
});

describe('serializeGraph / parseGraph', () => {
  it('round-trips typed arrays (fresh, aligned buffers) and runs the same', () => {
    const graph = lutGraph();
    const text = serializeGraph(graph);
    expect(text).toContain('"$int8"');
    const back = parseGraph(text, 'g.json');
    const table = (back.nodes[0] as unknown as { table: Int8Array }).table;
    expect(table).toBeInstanceOf(Int8Array);
    expect(table.byteOffset).toBe(0);
    expect(serializeGraph(back)).toBe(text);
    const x = Int8Array.of(-128, -3, 0, 40, 127);
    expect(runGraph(back, x).logits).toEqual(runGraph(graph, x).logits);
  });

  it('names the file and field when a typed array is not base64', () => {
    const text = serializeGraph(lutGraph()).replace(/"\$int8": "[^"]*"/, '"$int8": "not base64!"');
    expect(() => parseGraph(text, 'bad.json')).toThrow(DataError);
    expect(() => parseGraph(text, 'bad.json')).toThrow('bad.json: $int8: expected base64 text, got "not base64!"');
  });
});
