/**
 * Seeded mutations of a model folder (model.json + weights.bin), for the hostile-input fuzz: what
 * a careless tool, a bad download or an attacker does to a shared model. Each mutation is one
 * edit; `describe` says which, so a failing case can be rebuilt from its seed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '@tinyblocks/core';
import { INTEGRITY_FIELD } from '@tinyblocks/core/node';

type Json = any;

/** Every [parent, key] pair in the JSON tree (iterative: the tree may be deep). */
function slots(root: Json): Array<[Json, string | number]> {
  const out: Array<[Json, string | number]> = [];
  const stack: Json[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    const keys: Array<string | number> = Array.isArray(node) ? node.map((_: unknown, i: number) => i) : Object.keys(node);
    for (const k of keys) {
      out.push([node, k]);
      stack.push(node[k]);
    }
  }
  return out;
}

const DEEP = '__tinyblocks_fuzz_deep__';

/** The value in one slot of the tree (another value of the same file, to move elsewhere). */
const valueAt = ([parent, key]: [Json, string | number]): Json => parent[key];

const ODD_VALUES: Json[] = [null, -1, 0, 1, 1e9, -1e9, 1e308, 0.5, '', 'x', 'constructor', '__proto__', true, [], {}, [[[]]], 'NaN', '../../etc/passwd'];

function layersOf(json: Json): Json[] {
  const t = json.modelTopology?.model_config ?? json.modelTopology;
  const c = t?.config;
  return Array.isArray(c) ? c : Array.isArray(c?.layers) ? c.layers : [];
}

/** JSON-level edits: a value replaced or deleted, or the graph rewired. */
const JSON_MUTATIONS: Array<[string, (j: Json, r: Rng) => string]> = [
  ['replace a value', (j, r) => {
    const s = slots(j);
    const [p, k] = s[r.int(s.length)]!;
    const v = r.next() < 0.3 ? valueAt(s[r.int(s.length)]!) : ODD_VALUES[r.int(ODD_VALUES.length)];
    p[k] = structuredClone(v);
    return `${String(k)} := ${JSON.stringify(v)?.slice(0, 40)}`;
  }],
  ['delete a key', (j, r) => {
    const s = slots(j).filter(([p]) => !Array.isArray(p));
    const [p, k] = s[r.int(s.length)]!;
    delete p[k];
    return `delete ${String(k)}`;
  }],
  ['rewire an inbound node', (j, r) => {
    const ls = layersOf(j).filter((l) => Array.isArray(l.inbound_nodes) && l.inbound_nodes.length > 0);
    if (ls.length === 0) return 'no inbound nodes';
    const l = ls[r.int(ls.length)];
    const all = layersOf(j);
    const target = r.next() < 0.15 ? 'ghost' : all[r.int(all.length)].name;
    l.inbound_nodes[0][0][0] = target;
    return `${l.name} reads ${target}`;
  }],
  ['bad node or tensor index', (j, r) => {
    const ls = layersOf(j).filter((l) => Array.isArray(l.inbound_nodes) && l.inbound_nodes.length > 0);
    if (ls.length === 0) return 'no inbound nodes';
    const l = ls[r.int(ls.length)];
    const at = 1 + r.int(2);
    l.inbound_nodes[0][0][at] = [1, 7, -1, 0.5, 1e9][r.int(5)];
    return `${l.name} inbound index ${at}`;
  }],
  ['duplicate a layer name', (j, r) => {
    const ls = layersOf(j);
    const a = ls[r.int(ls.length)];
    const b = ls[r.int(ls.length)];
    a.name = b.name;
    if (a.config) a.config.name = b.name;
    return `name ${b.name} twice`;
  }],
  ['delete a layer', (j, r) => {
    const ls = layersOf(j);
    const [gone] = ls.splice(r.int(ls.length), 1);
    return `delete layer ${gone?.name}`;
  }],
  ['duplicate a layer entry', (j, r) => {
    const ls = layersOf(j);
    const l = ls[r.int(ls.length)];
    ls.splice(r.int(ls.length), 0, structuredClone(l));
    return `layer ${l?.name} listed twice`;
  }],
  ['change a hyper-parameter', (j, r) => {
    const ls = layersOf(j).filter((l) => l.config && typeof l.config === 'object');
    const l = ls[r.int(ls.length)];
    const keys = Object.keys(l.config).filter((k) => k !== 'name');
    if (keys.length === 0) return 'no config';
    const k = keys[r.int(keys.length)]!;
    const old = l.config[k];
    l.config[k] = typeof old === 'number' ? [old * 2, -old, 0, old + 1, 1e6][r.int(5)] : Array.isArray(old) ? old.map((x: Json) => (typeof x === 'number' ? x + 1 : x)) : ODD_VALUES[r.int(ODD_VALUES.length)];
    return `${l.name}.${k}`;
  }],
  ['deep nesting', (j, r) => {
    // spliced into the text afterwards (JSON.stringify itself overflows the stack on it)
    const depth = 100 + r.int(50_000);
    j.userDefinedMetadata = { ...(j.userDefinedMetadata ?? {}), deep: `${DEEP}${depth}` };
    return `nested ${depth}`;
  }],
  ['weights path', (j, r) => {
    const paths = ['../weights.bin', '/etc/passwd', '../../../../dev/zero', 'missing.bin', 'a/../../weights.bin', '', './weights.bin'];
    const p = paths[r.int(paths.length)];
    if (Array.isArray(j.weightsManifest) && j.weightsManifest[0]) j.weightsManifest[0].paths = [p];
    return `paths [${p}]`;
  }],
  ['weight spec', (j, r) => {
    const ws = j.weightsManifest?.[0]?.weights;
    if (!Array.isArray(ws) || ws.length === 0) return 'no specs';
    const w = ws[r.int(ws.length)];
    const what = r.int(4);
    if (what === 0) w.shape = w.shape.map((d: number) => d + 1);
    else if (what === 1) w.dtype = ['int32', 'float16', 'bool', 'string'][r.int(4)];
    else if (what === 2) w.name = ws[r.int(ws.length)].name;
    else ws.splice(r.int(ws.length), 1);
    return `spec ${w.name} (${what})`;
  }],
];

/** Byte-level edits of weights.bin. */
const WEIGHT_MUTATIONS: Array<[string, (b: Buffer, r: Rng) => Buffer]> = [
  ['flip a bit', (b, r) => { const i = r.int(b.length); b[i]! ^= 1 << r.int(8); return b; }],
  ['a NaN, Inf or huge float', (b, r) => { b.writeFloatLE([NaN, Infinity, -Infinity, 1e38, 3e5][r.int(5)]!, 4 * r.int(b.length >> 2)); return b; }],
  ['truncate', (b, r) => b.subarray(0, r.int(b.length))],
  ['append bytes', (b, r) => Buffer.concat([b, Buffer.alloc(1 + r.int(64), r.int(256))])],
  ['zero a run', (b, r) => { const i = r.int(b.length); b.fill(0, i, Math.min(b.length, i + 1 + r.int(4096))); return b; }],
];

export interface Mutation {
  seed: number;
  mode: 'saved' | 'foreign';
  describe: string;
}

/**
 * Writes a mutated copy of `modelDir` to `outDir` (an absent folder). `mode` 'saved' keeps the
 * integrity record saveModel writes; 'foreign' removes it first, as for a model from another tool.
 */
export function mutateModel(modelDir: string, outDir: string, seed: number, mode: 'saved' | 'foreign'): Mutation {
  const r = new Rng(seed);
  fs.mkdirSync(outDir, { recursive: true });
  const jsonText = fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8');
  const json = JSON.parse(jsonText);
  if (mode === 'foreign') delete json[INTEGRITY_FIELD];
  let weights: Buffer = Buffer.from(fs.readFileSync(path.join(modelDir, 'weights.bin')));
  let what: string;
  let text = JSON.stringify(json);
  const kind = r.next();
  if (kind < 0.6) {
    const [name, fn] = JSON_MUTATIONS[r.int(JSON_MUTATIONS.length)]!;
    what = `${name}: ${fn(json, r)}`;
    text = JSON.stringify(json).replace(new RegExp(`"${DEEP}(\\d+)"`), (_, d) => `${'['.repeat(Number(d))}1${']'.repeat(Number(d))}`);
  } else if (kind < 0.7) {
    const at = r.int(text.length);
    if (r.next() < 0.5) {
      text = text.slice(0, at);
      what = `model.json truncated at ${at}`;
    } else {
      text = `${text.slice(0, at)}${String.fromCharCode(32 + r.int(95))}${text.slice(at + 1)}`;
      what = `model.json byte ${at} changed`;
    }
  } else {
    const [name, fn] = WEIGHT_MUTATIONS[r.int(WEIGHT_MUTATIONS.length)]!;
    weights = fn(weights, r);
    what = `weights.bin: ${name}`;
  }
  fs.writeFileSync(path.join(outDir, 'model.json'), text);
  fs.writeFileSync(path.join(outDir, 'weights.bin'), weights);
  return { seed, mode, describe: what };
}

/**
 * One seeded edit of an int8 graph file (`<name>.int8.json` of an export, as verify reads it):
 * a value replaced by an odd one or by another value of the graph, or a key deleted.
 */
export function mutateGraphText(text: string, seed: number): { text: string; describe: string } {
  const r = new Rng(seed);
  const json = JSON.parse(text);
  const s = slots(json).filter(([p, k]) => !(typeof p[k] === 'string' && p[k].length > 200));
  const [p, k] = s[r.int(s.length)]!;
  const old = JSON.stringify(p[k])?.slice(0, 40);
  if (!Array.isArray(p) && r.next() < 0.2) {
    delete p[k];
    return { text: JSON.stringify(json), describe: `delete ${String(k)}` };
  }
  const v = r.next() < 0.3 ? valueAt(s[r.int(s.length)]!) : [...ODD_VALUES, [1e9, 1e9], 2 ** 31, -(2 ** 31)][r.int(ODD_VALUES.length + 3)];
  p[k] = structuredClone(v);
  return { text: JSON.stringify(json), describe: `${String(k)}: ${old} -> ${JSON.stringify(v)?.slice(0, 40)}` };
}
