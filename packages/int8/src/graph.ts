/**
 * The int8 graph: what quantization produces and what the TypeScript reference interpreter and
 * the C code generator consume. Plain data (typed arrays for parameters), serialisable to JSON.
 *
 * - Tensors are int8 activations, per-tensor affine: `real = scale * (q - zeroPoint)`. Shapes
 *   have no batch axis: a feature map is NHWC without N, `[H, W, C]`; a vector is `[D]`.
 * - Nodes are listed in execution order (topological). Early-exit heads come right after the
 *   layer they read, so a taken exit really skips everything after it.
 * - Each node's `op` names an OpDef (ops/registry.ts) that owns its fields' meaning, its
 *   TypeScript kernel and its C emission.
 */
import { DataError, describe as describeValue } from '@tinyblocks/core/base';
import { base64ToBytes, bytesToBase64 } from './base64.js';

export const INT8_GRAPH_FORMAT = 'tinyblocks-int8-graph';
export const INT8_GRAPH_VERSION = 1;

export interface TensorInfo {
  name: string;
  /** Without batch: [H, W, C] or [D]. */
  shape: number[];
  scale: number;
  zeroPoint: number;
}

export type OutputRole = 'logits' | 'exit' | 'concepts';

export interface GraphOutput {
  tensor: number;
  role: OutputRole;
}

/** Fields every node has; ops add their own (numbers, strings, typed arrays). */
export interface NodeBase {
  /** The OpDef key, e.g. 'conv2d'. */
  op: string;
  /** Unique; the float layer's name (C symbols derive from it). */
  name: string;
  /** Tensor ids read. */
  inputs: number[];
  /** Tensor ids written. */
  outputs: number[];
}

/** A node as stored: the base fields plus op-specific parameters. */
export type Int8Node = NodeBase & { [field: string]: unknown };

export interface Int8Graph {
  format: typeof INT8_GRAPH_FORMAT;
  version: typeof INT8_GRAPH_VERSION;
  /** Model name; C identifiers use it (`<name>_run`). */
  name: string;
  tensors: TensorInfo[];
  nodes: Int8Node[];
  /** The input tensor id. */
  input: number;
  /** Outputs in the float model's order ('logits' first). */
  outputs: GraphOutput[];
  /** Provenance: source model, calibration method and count, exit threshold. JSON values only. */
  meta: Record<string, unknown>;
}

export function tensorSize(t: TensorInfo): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------- JSON with typed arrays

const TYPED = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  int32: Int32Array,
} as const;
type TypedName = keyof typeof TYPED;

function typedName(v: unknown): TypedName | null {
  if (v instanceof Int8Array) return 'int8';
  if (v instanceof Uint8Array) return 'uint8';
  if (v instanceof Int16Array) return 'int16';
  if (v instanceof Int32Array) return 'int32';
  return null;
}

/** JSON text of a graph; typed arrays become `{ "$int8": "<base64>" }` (little-endian). */
export function serializeGraph(graph: Int8Graph): string {
  return JSON.stringify(
    graph,
    function (this: unknown, _key, value: unknown) {
      const t = typedName(value);
      if (t === null) return value;
      const a = value as Int8Array;
      return { [`$${t}`]: bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)) };
    },
    1,
  );
}

/**
 * Parses and checks the envelope (format, version, tensors, node base fields, ids in range).
 * Op-specific fields are checked by `validateGraph` (ops/registry.ts). Errors are DataErrors
 * naming the file (or 'int8 graph') and the field.
 */
export function parseGraph(text: string, file = 'int8 graph'): Int8Graph {
  const where = { file };
  let raw: unknown;
  try {
    raw = JSON.parse(text, (_key, value: unknown) => {
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const keys = Object.keys(value);
        if (keys.length === 1 && keys[0]!.startsWith('$') && Object.hasOwn(TYPED, keys[0]!.slice(1))) {
          const name = keys[0]!.slice(1) as TypedName;
          const text = String((value as Record<string, unknown>)[keys[0]!]);
          let bytes: Uint8Array<ArrayBuffer>;
          try {
            bytes = base64ToBytes(text);
          } catch {
            throw new DataError(where, keys[0]!, 'base64 text', text.length > 40 ? `${text.slice(0, 40)}...` : text);
          }
          const Ctor = TYPED[name];
          if (bytes.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) throw new DataError(where, keys[0]!, `a multiple of ${Ctor.BYTES_PER_ELEMENT} bytes`, bytes.byteLength);
          return new Ctor(bytes.buffer, 0, bytes.byteLength / Ctor.BYTES_PER_ELEMENT); // fresh, aligned buffer
        }
      }
      return value;
    });
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(where, 'JSON', 'valid JSON', (e as Error).message);
  }
  checkEnvelope(raw, file);
  return raw;
}

function fail(file: string, field: string, expected: string, got: unknown): never {
  throw new DataError({ file }, field, expected, got);
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x));
}

/** Structural checks shared by parseGraph and validateGraph. */
export function checkEnvelope(raw: unknown, file = 'int8 graph'): asserts raw is Int8Graph {
  if (!raw || typeof raw !== 'object') fail(file, 'graph', 'an object', raw);
  const g = raw as Record<string, unknown>;
  if (g['format'] !== INT8_GRAPH_FORMAT) fail(file, 'format', JSON.stringify(INT8_GRAPH_FORMAT), g['format']);
  if (g['version'] !== INT8_GRAPH_VERSION) fail(file, 'version', String(INT8_GRAPH_VERSION), g['version']);
  if (typeof g['name'] !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(g['name'])) fail(file, 'name', 'a C identifier', g['name']);
  if (!Array.isArray(g['tensors'])) fail(file, 'tensors', 'an array', g['tensors']);
  const tensors = g['tensors'] as unknown[];
  tensors.forEach((t, i) => {
    const r = t as Record<string, unknown>;
    const f = `tensors[${i}]`;
    if (!r || typeof r !== 'object') fail(file, f, 'an object', t);
    if (typeof r['name'] !== 'string') fail(file, `${f}.name`, 'a string', r['name']);
    if (!isIntArray(r['shape']) || (r['shape'] as number[]).some((d) => d < 1)) fail(file, `${f}.shape`, 'positive integers', r['shape']);
    if (typeof r['scale'] !== 'number' || !(r['scale'] > 0) || !Number.isFinite(r['scale'])) fail(file, `${f}.scale`, 'a finite number > 0', r['scale']);
    const zp = r['zeroPoint'];
    if (!Number.isInteger(zp) || (zp as number) < -128 || (zp as number) > 127) fail(file, `${f}.zeroPoint`, 'an integer in [-128, 127]', zp);
  });
  const tensorId = (field: string, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= tensors.length) fail(file, field, `a tensor id in [0, ${tensors.length - 1}]`, v);
  };
  tensorId('input', g['input']);
  if (!Array.isArray(g['outputs']) || g['outputs'].length === 0) fail(file, 'outputs', 'a non-empty array', g['outputs']);
  (g['outputs'] as unknown[]).forEach((o, i) => {
    const r = (o ?? {}) as Record<string, unknown>;
    tensorId(`outputs[${i}].tensor`, r['tensor']);
    if (!['logits', 'exit', 'concepts'].includes(r['role'] as string)) fail(file, `outputs[${i}].role`, "'logits', 'exit' or 'concepts'", r['role']);
  });
  if (!Array.isArray(g['nodes'])) fail(file, 'nodes', 'an array', g['nodes']);
  const names = new Set<string>();
  (g['nodes'] as unknown[]).forEach((n, i) => {
    const r = (n ?? {}) as Record<string, unknown>;
    const f = `nodes[${i}]`;
    if (typeof r['op'] !== 'string') fail(file, `${f}.op`, 'a string', r['op']);
    if (typeof r['name'] !== 'string' || r['name'] === '') fail(file, `${f}.name`, 'a non-empty string', r['name']);
    if (names.has(r['name'] as string)) fail(file, `${f}.name`, 'a unique node name', r['name']);
    names.add(r['name'] as string);
    for (const k of ['inputs', 'outputs'] as const) {
      if (!isIntArray(r[k])) fail(file, `${f}.${k}`, 'an array of tensor ids', r[k]);
      (r[k] as number[]).forEach((id, j) => tensorId(`${f} (${describeValue(r['name'])}).${k}[${j}]`, id));
    }
  });
  if (typeof g['meta'] !== 'object' || g['meta'] === null) fail(file, 'meta', 'an object', g['meta']);
}
