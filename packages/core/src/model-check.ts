/**
 * Checks a tfjs Layers model.json (the parsed object) as a graph before tfjs sees it.
 *
 * tfjs's `loadLayersModel` re-queues a layer call until its inputs exist, so a cyclic or dangling
 * `inbound_nodes` entry (or one whose node index tfjs never builds) makes it spin forever, and it
 * allocates whatever sizes a config declares. Everything here is iterative (hostile JSON may be
 * nested 100k deep) and reads keys the way tfjs does: tfjs camel-cases every key
 * (`inbound_nodes`, `inboundNodes` and `inbound__nodes` are one key to it), so two spellings of one
 * key are an error rather than a way to show us one value and tfjs another.
 *
 * Problems throw DataError naming the file, the JSON path (with the layer's name) and what was
 * expected vs got, e.g. `model.json: modelTopology.config.layers[3] ('conv2').inbound_nodes[0][0][0]:
 * expected the name of a layer in this model, got "ghost"`.
 */
import { DataError } from './errors.js';

export interface ModelCheckLimits {
  /** Nesting of objects and arrays in the whole file. */
  maxDepth: number;
  /** Layers in the model (nested models and wrapped layers included); also bounds layer calls. */
  maxLayers: number;
  /** Elements of one sample of a declared shape (batch dimension excluded). */
  maxElementsPerSample: number;
  /** Largest units / filters / kernel size / stride / padding ... */
  maxHyper: number;
  /** Elements of one weight in weightsManifest. */
  maxWeightElements: number;
}

export const MODEL_LIMITS: ModelCheckLimits = Object.freeze({
  maxDepth: 64,
  maxLayers: 10_000,
  maxElementsPerSample: 2 ** 24,
  maxHyper: 65_536,
  maxWeightElements: 2 ** 28,
});

/** Output tensors one layer call may have (a tensor index must be below this). */
const MAX_TENSOR_INDEX = 64;
/** Inbound entries (graph edges) allowed per layer. */
const EDGES_PER_LAYER = 64;
const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

type Obj = Record<string, unknown>;
type Got = string | number | boolean | null | undefined | ReadonlyArray<number | null>;
type Work = { kind: 'model' | 'wrapped'; value: unknown; path: string };

interface Ctx {
  file: string;
  limits: ModelCheckLimits;
  knownClass: ((className: string) => boolean) | undefined;
  layers: number;
  queue: Work[];
}

/** One layer of a functional model, as the graph checks need it. */
interface LayerInfo {
  name: string;
  cls: string;
  label: string;
  nodesKey: string;
  nodes: unknown[];
  isInput: boolean;
  /** Nodes tfjs builds when it constructs the layer (InputLayer, a model used as a layer). */
  prebuilt: number;
}

interface Graph {
  ctx: Ctx;
  infos: LayerInfo[];
  byName: Map<string, number>;
  /** First vertex of each layer; a vertex is one (layer, node index). */
  base: number[];
  owner: number[];
  /** Source vertices of each vertex's inbound entries. */
  preds: number[][];
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** A short stand-in for any value, for `got` (never a large object). */
function brief(v: unknown): Got {
  if (v === undefined || v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > 40 ? `${v.slice(0, 37)}...` : v;
  if (Array.isArray(v)) {
    const simple = v.length <= 8 && v.every((x) => x === null || typeof x === 'number');
    return simple ? (v as Array<number | null>) : `an array of ${v.length}`;
  }
  return typeof v === 'object' ? 'an object' : typeof v;
}

function fail(ctx: Ctx, field: string, expected: string, got: Got, hint?: string): never {
  throw new DataError({ file: ctx.file }, field, expected, got, hint);
}

function limitsOf(limits: Partial<ModelCheckLimits> | undefined): ModelCheckLimits {
  return { ...MODEL_LIMITS, ...limits };
}

/** tfjs's toCamelCase: the key (or class name) tfjs reads a JSON key as. */
function tfjsKey(key: string): string {
  if (key.length <= 1 || !key.includes('_')) return key;
  return key.replace(/[_]+(\w|$)/g, (_m, c: string) => c.toUpperCase());
}

function keysFor(obj: Obj, camel: string): string[] {
  return Object.keys(obj).filter((k) => tfjsKey(k) === camel);
}

/** The key and value tfjs reads as `camel`; two spellings of it are an error. */
function read(ctx: Ctx, obj: Obj, camel: string, path: string): { key: string; value: unknown } | undefined {
  const keys = keysFor(obj, camel);
  if (keys.length > 1) {
    fail(ctx, `${path}.${keys[1]}`, `one key meaning '${camel}'`, `both '${keys[0]}' and '${keys[1]}'`);
  }
  return keys.length === 0 ? undefined : { key: keys[0]!, value: obj[keys[0]!] };
}

/** Lenient read (no errors): the value when exactly one key means `camel`. */
function pick(obj: Obj, camel: string): unknown {
  const keys = keysFor(obj, camel);
  return keys.length === 1 ? obj[keys[0]!] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Nesting depth

/** Throws when objects / arrays in `value` nest deeper than `maxDepth` levels (iteratively). */
export function checkJsonDepth(value: unknown, file: string, maxDepth: number = MODEL_LIMITS.maxDepth): void {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > maxDepth) {
      throw new DataError({ file }, 'contents', `JSON nested at most ${maxDepth} levels`, `deeper than ${maxDepth} levels`);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child !== 'object' || child === null) continue;
      values.push(child);
      depths.push(depth + 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Topology

/**
 * Checks `json.modelTopology` (plain or wrapped in `model_config`): model and layer classes,
 * unique layer names, the inbound-node graph of functional models (references, node and tensor
 * indices, cycles, and that tfjs's node numbering can be built), input / output layers, declared
 * shapes and hyper-parameters. Nested models and wrapped layers are checked too.
 */
export function checkModelTopology(
  json: Record<string, unknown>,
  file: string,
  limits?: Partial<ModelCheckLimits>,
  knownClass?: (className: string) => boolean,
): void {
  const ctx: Ctx = { file, limits: limitsOf(limits), knownClass, layers: 0, queue: [] };
  if (!isObj(json)) fail(ctx, 'contents', 'a JSON object', brief(json));
  checkJsonDepth(json, file, ctx.limits.maxDepth);
  const topo = json['modelTopology'];
  if (!isObj(topo)) fail(ctx, 'modelTopology', 'an object', brief(topo));
  const wrapped = topo['model_config'] != null;
  ctx.queue.push({ kind: 'model', value: wrapped ? topo['model_config'] : topo, path: wrapped ? 'modelTopology.model_config' : 'modelTopology' });
  while (ctx.queue.length > 0) {
    const work = ctx.queue.pop()!;
    if (work.kind === 'model') checkModel(ctx, work.value, work.path);
    else checkLayer(ctx, work.value, work.path, 'wrapped');
  }
}

function checkModel(ctx: Ctx, topo: unknown, path: string): void {
  if (!isObj(topo)) fail(ctx, path, 'a model {class_name, config}', brief(topo));
  const cls = read(ctx, topo, 'className', path);
  const name = typeof cls?.value === 'string' ? tfjsKey(cls.value) : undefined;
  if (name === undefined || !MODEL_CLASSES.has(name)) {
    fail(ctx, `${path}.${cls?.key ?? 'class_name'}`, "'Sequential', 'Model' or 'Functional'", brief(cls?.value));
  }
  const config = read(ctx, topo, 'config', path);
  const configPath = `${path}.${config?.key ?? 'config'}`;
  if (name === 'Sequential') checkSequential(ctx, config?.value, configPath);
  else checkFunctional(ctx, config?.value, configPath);
}

function checkSequential(ctx: Ctx, config: unknown, path: string): void {
  if (Array.isArray(config)) {
    checkLayers(ctx, config, path, 'sequential');
    return;
  }
  if (!isObj(config)) fail(ctx, path, 'an array of layers or {name, layers}', brief(config));
  const layers = read(ctx, config, 'layers', path);
  const layersPath = `${path}.${layers?.key ?? 'layers'}`;
  if (!Array.isArray(layers?.value)) fail(ctx, layersPath, 'an array of layers', brief(layers?.value));
  checkLayers(ctx, layers.value, layersPath, 'sequential');
}

function checkFunctional(ctx: Ctx, config: unknown, path: string): void {
  if (!isObj(config)) fail(ctx, path, 'an object {name, layers, input_layers, output_layers}', brief(config));
  const layers = read(ctx, config, 'layers', path);
  const layersPath = `${path}.${layers?.key ?? 'layers'}`;
  if (!Array.isArray(layers?.value)) fail(ctx, layersPath, 'an array of layers', brief(layers?.value));
  const infos = checkLayers(ctx, layers.value, layersPath, 'functional');
  const graph = buildGraph(ctx, infos, layersPath);
  checkEndpoints(graph, config, 'inputLayers', path);
  checkEndpoints(graph, config, 'outputLayers', path);
  checkAcyclic(graph);
  checkBuildOrder(graph);
}

/** Checks each layer and that names are unique; returns what the graph checks need. */
function checkLayers(ctx: Ctx, layers: unknown[], path: string, kind: 'sequential' | 'functional'): LayerInfo[] {
  ctx.layers += layers.length;
  if (ctx.layers > ctx.limits.maxLayers) fail(ctx, path, `at most ${ctx.limits.maxLayers} layers`, ctx.layers);
  const seen = new Map<string, number>();
  const infos: LayerInfo[] = [];
  for (let i = 0; i < layers.length; i++) {
    const info = checkLayer(ctx, layers[i], `${path}[${i}]`, kind)!;
    const first = seen.get(info.name);
    if (first !== undefined) {
      fail(ctx, info.label, 'unique layer names', `'${info.name}' again (first at ${path}[${first}])`);
    }
    seen.set(info.name, i);
    infos.push(info);
  }
  return infos;
}

// ---------------------------------------------------------------------------------------------
// One layer

function checkLayer(ctx: Ctx, layer: unknown, path: string, kind: 'sequential' | 'functional' | 'wrapped'): LayerInfo | undefined {
  if (!isObj(layer)) fail(ctx, path, 'a layer object {class_name, config}', brief(layer));
  const clsField = read(ctx, layer, 'className', path);
  if (typeof clsField?.value !== 'string' || clsField.value === '') {
    fail(ctx, `${path}.${clsField?.key ?? 'class_name'}`, 'a layer class name', brief(clsField?.value));
  }
  const cls = tfjsKey(clsField.value);
  const config = read(ctx, layer, 'config', path);
  if (!isObj(config?.value)) fail(ctx, `${path}.${config?.key ?? 'config'}`, 'a layer config object', brief(config?.value));
  const name = kind === 'wrapped' ? undefined : layerName(ctx, layer, config.value, path, kind);
  const label = name === undefined ? path : `${path} ('${name}')`;
  if (kind === 'wrapped') ctx.layers += 1;
  if (ctx.layers > ctx.limits.maxLayers) fail(ctx, label, `at most ${ctx.limits.maxLayers} layers`, ctx.layers);
  checkClass(ctx, cls, `${label}.${clsField.key}`);
  checkConfigValues(ctx, config.value, `${label}.${config.key}`);
  queueNested(ctx, layer, cls, config.value, label, config.key);
  if (name === undefined) return undefined;
  const isInput = cls === 'InputLayer';
  const prebuilt = isInput || cls === 'Model' || cls === 'Functional' || (cls === 'Sequential' && sequentialHasInput(config.value)) ? 1 : 0;
  const info: LayerInfo = { name, cls, label, nodesKey: 'inbound_nodes', nodes: [], isInput, prebuilt };
  if (kind === 'functional') readInboundNodes(ctx, layer, info);
  return info;
}

/**
 * `layer.name ?? layer.config.name`. Both must agree when both are given, and a functional layer
 * needs the top-level one: tfjs finds functional layers by it and spins forever without it.
 */
function layerName(ctx: Ctx, layer: Obj, config: Obj, path: string, kind: 'sequential' | 'functional'): string {
  const top = read(ctx, layer, 'name', path);
  const inner = read(ctx, config, 'name', `${path}.config`);
  const name = top?.value ?? inner?.value;
  if (typeof name !== 'string' || name === '') fail(ctx, `${path}.name`, 'a non-empty layer name', brief(name));
  if (inner !== undefined && inner.value !== name) {
    fail(ctx, `${path} ('${name}').config.name`, `the layer's name '${name}'`, brief(inner.value));
  }
  if (kind === 'functional' && top === undefined) {
    fail(ctx, `${path} ('${name}').name`, `the layer's name '${name}' (tfjs finds functional layers by it)`, undefined);
  }
  if (name in Object.prototype) {
    fail(ctx, `${path}.name`, 'a layer name that is not a JavaScript object property (tfjs keys layers by name)', name);
  }
  return name;
}

function checkClass(ctx: Ctx, cls: string, field: string): void {
  if (ctx.knownClass === undefined || ctx.knownClass(cls)) return;
  fail(
    ctx,
    field,
    'a layer class known to tf.layers or registered by an imported @tinyblocks package',
    cls,
    'import the package that defines it before loading',
  );
}

/** Nested models (a model used as a layer) and wrapped layers (Bidirectional, RNN cells ...). */
function queueNested(ctx: Ctx, layer: Obj, cls: string, config: Obj, label: string, configKey: string): void {
  if (MODEL_CLASSES.has(cls)) ctx.queue.push({ kind: 'model', value: layer, path: label });
  for (const camel of ['layer', 'forwardLayer', 'backwardLayer', 'cell', 'cells']) {
    const sub = read(ctx, config, camel, label);
    if (sub === undefined) continue;
    const path = `${label}.${configKey}.${sub.key}`;
    if (Array.isArray(sub.value)) sub.value.forEach((v, i) => isObj(v) && ctx.queue.push({ kind: 'wrapped', value: v, path: `${path}[${i}]` }));
    else if (isObj(sub.value)) ctx.queue.push({ kind: 'wrapped', value: sub.value, path });
  }
}

/** Whether tfjs's Sequential gets its input (and so its node 0) from its first layer. */
function sequentialHasInput(config: Obj): boolean {
  const first = modelLayers(config)[0];
  if (!isObj(first)) return false;
  const cls = pick(first, 'className');
  if (typeof cls === 'string' && (tfjsKey(cls) === 'InputLayer' || MODEL_CLASSES.has(tfjsKey(cls)))) return true;
  const c = pick(first, 'config');
  return isObj(c) && (pick(c, 'batchInputShape') != null || pick(c, 'inputShape') != null);
}

function readInboundNodes(ctx: Ctx, layer: Obj, info: LayerInfo): void {
  const field = read(ctx, layer, 'inboundNodes', info.label);
  info.nodesKey = field?.key ?? 'inbound_nodes';
  const where = `${info.label}.${info.nodesKey}`;
  if (!Array.isArray(field?.value)) fail(ctx, where, 'an array of inbound nodes', brief(field?.value));
  if (info.isInput && field.value.length > 0) fail(ctx, where, 'an empty array (an InputLayer has no inbound nodes)', brief(field.value));
  info.nodes = field.value;
}

// ---------------------------------------------------------------------------------------------
// Shapes and hyper-parameters

type ShapeKind = 'batch' | 'plain' | 'target';
const SHAPE_KEYS = new Map<string, ShapeKind>([
  ['batchInputShape', 'batch'],
  ['batchShape', 'batch'],
  ['inputShape', 'plain'],
  ['targetShape', 'target'],
  ['dims', 'plain'],
]);
/** Smallest allowed value of each integer hyper-parameter (the largest is maxHyper). */
const HYPER_MIN = new Map<string, number>([
  ['units', 1], ['filters', 1], ['kernelSize', 1], ['poolSize', 1], ['strides', 1], ['dilationRate', 1],
  ['depthMultiplier', 1], ['size', 1], ['inputDim', 1], ['outputDim', 1], ['cropping', 0], ['padding', 0],
]);

function checkConfigValues(ctx: Ctx, config: Obj, path: string): void {
  for (const key of Object.keys(config)) {
    const camel = tfjsKey(key);
    const value = config[key];
    if (value === null || value === undefined) continue;
    const shape = SHAPE_KEYS.get(camel);
    const min = HYPER_MIN.get(camel);
    if (shape !== undefined) checkShape(ctx, value, `${path}.${key}`, shape);
    else if (min !== undefined) checkHyper(ctx, value, `${path}.${key}`, camel, min);
    else if (camel === 'rate') checkRate(ctx, value, `${path}.${key}`);
  }
}

/** Dims are null or integers >= 1 (one -1 allowed in a Reshape target); a sample's elements are bounded. */
function checkShape(ctx: Ctx, shape: unknown, field: string, kind: ShapeKind): void {
  if (!Array.isArray(shape)) fail(ctx, field, 'an array of dimensions', brief(shape));
  const max = ctx.limits.maxElementsPerSample;
  let elements = 1;
  let unknown = 0;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (d === null) continue;
    if (kind === 'target' && d === -1 && unknown++ === 0) continue;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) {
      fail(ctx, `${field}[${i}]`, kind === 'target' ? 'null, one -1 or an integer >= 1' : 'null or an integer >= 1', brief(d));
    }
    if (kind === 'batch' && i === 0) {
      if (d > max) fail(ctx, `${field}[0]`, `a batch size of at most ${max}`, d);
      continue;
    }
    elements *= d;
  }
  if (elements > max) {
    fail(ctx, field, `at most ${max} elements per sample`, elements, 'a declared tensor this large is refused, not allocated');
  }
}

/** A number, or array (padding / cropping: array of arrays) of integers in [min, maxHyper]; padding may be a string. */
function checkHyper(ctx: Ctx, value: unknown, field: string, camel: string, min: number): void {
  if (camel === 'padding' && typeof value === 'string') return;
  const nested = camel === 'padding' || camel === 'cropping';
  const expected = `an integer in [${min}, ${ctx.limits.maxHyper}]`;
  if (!Array.isArray(value)) return checkInt(ctx, value, field, min, expected);
  value.forEach((v: unknown, i) => {
    if (!nested || !Array.isArray(v)) return checkInt(ctx, v, `${field}[${i}]`, min, expected);
    v.forEach((w: unknown, j) => checkInt(ctx, w, `${field}[${i}][${j}]`, min, expected));
  });
}

function checkInt(ctx: Ctx, v: unknown, field: string, min: number, expected: string): void {
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= ctx.limits.maxHyper) return;
  fail(ctx, field, expected, brief(v));
}

function checkRate(ctx: Ctx, v: unknown, field: string): void {
  if (typeof v === 'number' && v >= 0 && v < 1) return;
  fail(ctx, field, 'a number in [0, 1)', brief(v));
}

// ---------------------------------------------------------------------------------------------
// The inbound-node graph (functional models)

/** tfjs's node indices of a layer: its prebuilt node, then one per inbound node. */
function nodeCount(info: LayerInfo): number {
  return info.prebuilt + info.nodes.length;
}

/** The vertex of a layer's config inbound node `k`. */
function configVertex(g: Graph, layer: number, k: number): number {
  return g.base[layer]! + g.infos[layer]!.prebuilt + k;
}

function vertexName(g: Graph, v: number): string {
  const layer = g.owner[v]!;
  const node = v - g.base[layer]!;
  return node === 0 ? `'${g.infos[layer]!.name}'` : `'${g.infos[layer]!.name}' node ${node}`;
}

/** Checks every inbound entry and returns the graph of (layer, node) vertices. */
function buildGraph(ctx: Ctx, infos: LayerInfo[], path: string): Graph {
  const byName = new Map(infos.map((info, i) => [info.name, i] as const));
  const base: number[] = [];
  const owner: number[] = [];
  infos.forEach((info, i) => {
    base.push(owner.length);
    for (let k = 0; k < nodeCount(info); k++) owner.push(i);
  });
  if (owner.length > ctx.limits.maxLayers) fail(ctx, path, `at most ${ctx.limits.maxLayers} layer calls (inbound nodes)`, owner.length);
  const g: Graph = { ctx, infos, byName, base, owner, preds: owner.map(() => []) };
  let edges = 0;
  infos.forEach((info, i) => {
    info.nodes.forEach((node, k) => {
      const entries = nodeEntries(ctx, node, `${info.label}.${info.nodesKey}[${k}]`);
      edges += entries.length;
      if (edges > EDGES_PER_LAYER * ctx.limits.maxLayers) {
        fail(ctx, `${info.label}.${info.nodesKey}`, `at most ${EDGES_PER_LAYER * ctx.limits.maxLayers} inbound entries in all`, edges);
      }
      entries.forEach((entry, e) => {
        const [src, srcNode] = checkRef(g, entry, `${info.label}.${info.nodesKey}[${k}][${e}]`, 4);
        g.preds[configVertex(g, i, k)]!.push(base[src]! + srcNode);
      });
    });
  });
  return g;
}

function nodeEntries(ctx: Ctx, node: unknown, field: string): unknown[] {
  if (isObj(node) && 'args' in node) {
    fail(
      ctx,
      field,
      'a node as an array of [layerName, nodeIndex, tensorIndex, kwargs] entries',
      'a Keras 3 {args, kwargs} node',
      'tfjs cannot load the Keras 3 format; save with tf_keras (Keras 2) or from tfjs',
    );
  }
  if (!Array.isArray(node) || node.length === 0) fail(ctx, field, 'a non-empty array of inbound entries', brief(node));
  return node;
}

/** `[layerName, nodeIndex, tensorIndex, kwargs?]` referring to an existing layer and node. */
function checkRef(g: Graph, ref: unknown, field: string, maxLength: 3 | 4): [number, number] {
  const ctx = g.ctx;
  const shape = maxLength === 4 ? '[layerName, nodeIndex, tensorIndex, kwargs?]' : '[layerName, nodeIndex, tensorIndex]';
  if (!Array.isArray(ref) || ref.length < 3 || ref.length > maxLength) fail(ctx, field, shape, brief(ref));
  const [name, node, tensor, kwargs] = ref as unknown[];
  const src = typeof name === 'string' ? g.byName.get(name) : undefined;
  if (src === undefined) fail(ctx, `${field}[0]`, 'the name of a layer in this model', brief(name));
  const count = nodeCount(g.infos[src]!);
  if (!isIndex(node) || node >= count) {
    const range = count === 0 ? `none: '${name}' has no nodes` : `an integer in [0, ${count - 1}]: '${name}' has ${count} node${count === 1 ? '' : 's'}`;
    fail(ctx, `${field}[1]`, `a node index (${range})`, brief(node));
  }
  if (!isIndex(tensor) || tensor >= MAX_TENSOR_INDEX) {
    fail(ctx, `${field}[2]`, `a tensor index: an integer in [0, ${MAX_TENSOR_INDEX - 1}]`, brief(tensor));
  }
  if (ref.length === 4 && kwargs !== null && !isObj(kwargs)) fail(ctx, `${field}[3]`, 'a kwargs object', brief(kwargs));
  return [src, node];
}

/** `input_layers` / `output_layers`: non-empty arrays of references; inputs name InputLayers. */
function checkEndpoints(g: Graph, config: Obj, camel: 'inputLayers' | 'outputLayers', path: string): void {
  const field = read(g.ctx, config, camel, path);
  const where = `${path}.${field?.key ?? (camel === 'inputLayers' ? 'input_layers' : 'output_layers')}`;
  if (!Array.isArray(field?.value) || field.value.length === 0) {
    fail(g.ctx, where, 'a non-empty array of [layerName, nodeIndex, tensorIndex]', brief(field?.value));
  }
  field.value.forEach((ref, i) => {
    const [src] = checkRef(g, ref, `${where}[${i}]`, 3);
    const info = g.infos[src]!;
    if (camel === 'inputLayers' && !info.isInput) {
      fail(g.ctx, `${where}[${i}][0]`, 'the name of an InputLayer', `'${info.name}' (a ${info.cls})`);
    }
  });
}

/** Kahn's algorithm; on a cycle, walks back through the unresolved vertices to name it. */
function checkAcyclic(g: Graph): void {
  const n = g.preds.length;
  const indegree = new Int32Array(n);
  const succ: number[][] = g.preds.map(() => []);
  g.preds.forEach((ps, v) => ps.forEach((p) => { succ[p]!.push(v); indegree[v]! += 1; }));
  const queue: number[] = [];
  for (let v = 0; v < n; v++) if (indegree[v] === 0) queue.push(v);
  for (let head = 0; head < queue.length; head++) {
    for (const s of succ[queue[head]!]!) if (--indegree[s]! === 0) queue.push(s);
  }
  if (queue.length === n) return;
  const cycle = findCycle(g, indegree);
  const info = g.infos[g.owner[cycle[0]!]!]!;
  const names = cycle.map((v) => vertexName(g, v));
  const shown = names.length > 8 ? [...names.slice(0, 8), `... (${names.length} in all)`] : names;
  fail(g.ctx, `${info.label}.${info.nodesKey}`, 'an acyclic graph', `a cycle through ${[...shown, names[0]].join(' -> ')}`, 'tfjs would wait forever for these layers');
}

/** Every vertex left with indegree > 0 has such a predecessor, so walking back must repeat. */
function findCycle(g: Graph, indegree: Int32Array): number[] {
  const position = new Map<number, number>();
  const walk: number[] = [];
  let v = indegree.findIndex((d) => d > 0);
  while (!position.has(v)) {
    position.set(v, walk.length);
    walk.push(v);
    v = g.preds[v]!.find((p) => indegree[p]! > 0)!;
  }
  const cycle = walk.slice(position.get(v)).reverse();
  const first = cycle.indexOf(cycle.reduce((m, x) => Math.min(m, x)));
  return [...cycle.slice(first), ...cycle.slice(0, first)];
}

/**
 * Replays tfjs's fromConfig, which builds pending nodes in rounds over the layers in order, each
 * layer's pending nodes in order, and numbers a layer's nodes in the order it builds them; a round
 * that builds nothing repeats forever (e.g. a shared layer whose nodes are listed out of build
 * order, though the graph is acyclic). Event-driven: a node is scheduled at the (round, layer,
 * node) of the first visit after its last input is built, so this is O(E log V), not O(V^2).
 */
function checkBuildOrder(g: Graph): void {
  const built = g.infos.map((info) => info.prebuilt);
  const waiting = g.preds.map((ps) => ps.filter((p) => !isBuilt(g, built, p)).length);
  const succ: number[][] = g.preds.map(() => []);
  g.preds.forEach((ps, v) => ps.forEach((p) => succ[p]!.push(v)));
  const heap = new TimeHeap();
  g.infos.forEach((info, layer) => info.nodes.forEach((_, k) => {
    if (waiting[configVertex(g, layer, k)] === 0) heap.push(0, layer, k);
  }));
  let done = 0;
  for (let t = heap.pop(); t !== undefined; t = heap.pop()) {
    const [round, layer, k] = t;
    done += 1;
    const index = g.base[layer]! + built[layer]!++;
    for (const v of succ[index]!) {
      if (--waiting[v]! > 0) continue;
      const at = g.owner[v]!;
      const atK = v - g.base[at]! - g.infos[at]!.prebuilt;
      heap.push(at > layer || (at === layer && atK > k) ? round : round + 1, at, atK);
    }
  }
  const total = g.infos.reduce((sum, info) => sum + info.nodes.length, 0);
  if (done < total) stuck(g, built);
}

function isBuilt(g: Graph, built: number[], vertex: number): boolean {
  const layer = g.owner[vertex]!;
  return built[layer]! > vertex - g.base[layer]!;
}

function stuck(g: Graph, built: number[]): never {
  const layer = g.infos.findIndex((info, i) => built[i]! < nodeCount(info));
  const info = g.infos[layer]!;
  const node = info.nodes.findIndex((_, j) => g.preds[configVertex(g, layer, j)]!.some((p) => !isBuilt(g, built, p)));
  const waitsFor = g.preds[configVertex(g, layer, node)]!.find((p) => !isBuilt(g, built, p))!;
  fail(
    g.ctx,
    `${info.label}.${info.nodesKey}[${node}]`,
    'node indices tfjs can build in order',
    `a wait for ${vertexName(g, waitsFor)}, which tfjs never builds`,
    "tfjs numbers a shared layer's nodes in the order it can build them",
  );
}

/** A min-heap of (round, layer, node) times. */
class TimeHeap {
  private readonly items: Array<[number, number, number]> = [];

  push(round: number, layer: number, node: number): void {
    const items = this.items;
    items.push([round, layer, node]);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): [number, number, number] | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && before(items[l]!, items[m]!)) m = l;
      if (r < items.length && before(items[r]!, items[m]!)) m = r;
      if (m === i) break;
      [items[i], items[m]] = [items[m]!, items[i]!];
      i = m;
    }
    return top;
  }
}

function before(a: [number, number, number], b: [number, number, number]): boolean {
  return a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];
}

// ---------------------------------------------------------------------------------------------
// Weight specs

/** Weight name suffix, the config key its last dimension must equal, and that key's default. */
const KERNELS = new Map<string, Array<[string, string, number | undefined]>>([
  ['Dense', [['kernel', 'units', undefined]]],
  ['Conv1D', [['kernel', 'filters', undefined]]],
  ['Conv2D', [['kernel', 'filters', undefined]]],
  ['SeparableConv2D', [['depthwise_kernel', 'depthMultiplier', 1], ['pointwise_kernel', 'filters', undefined]]],
  ['DepthwiseConv2D', [['depthwise_kernel', 'depthMultiplier', 1]]],
]);

interface SpecInfo {
  shape: number[];
  field: string;
}

/**
 * Checks `json.weightsManifest` shapes (integers >= 0, at most maxWeightElements elements each)
 * and that the kernels of Dense / Conv1D / Conv2D / SeparableConv2D / DepthwiseConv2D layers end
 * in the layer's units / filters / depth_multiplier. Missing specs are left to tfjs.
 */
export function checkWeightSpecsAgainstConfig(json: Record<string, unknown>, file: string, limits?: Partial<ModelCheckLimits>): void {
  const ctx: Ctx = { file, limits: limitsOf(limits), knownClass: undefined, layers: 0, queue: [] };
  const manifest = isObj(json) ? json['weightsManifest'] : undefined;
  if (manifest === undefined || manifest === null) return;
  const specs = readSpecs(ctx, manifest);
  for (const layer of listLayers(json)) {
    for (const [suffix, key, dflt] of KERNELS.get(layer.cls) ?? []) {
      const spec = specs.get(`${layer.name}/${suffix}`);
      const want = pick(layer.config, key) ?? dflt;
      if (spec === undefined || typeof want !== 'number') continue;
      const last = spec.shape[spec.shape.length - 1];
      if (last === want) continue;
      const shape = spec.shape.length <= 8 ? `[${spec.shape.join(', ')}]` : `rank ${spec.shape.length}`;
      fail(ctx, spec.field, `a last dimension equal to ${key} of ${layer.cls} '${layer.name}' (${want})`, `${last ?? 'none'} (shape ${shape})`);
    }
  }
}

function readSpecs(ctx: Ctx, manifest: unknown): Map<string, SpecInfo> {
  if (!Array.isArray(manifest)) fail(ctx, 'weightsManifest', 'an array of weight groups', brief(manifest));
  const specs = new Map<string, SpecInfo>();
  manifest.forEach((group: unknown, g) => {
    const weights = isObj(group) ? group['weights'] : undefined;
    if (!Array.isArray(weights)) fail(ctx, `weightsManifest[${g}].weights`, 'an array of weight specs', brief(weights));
    weights.forEach((spec: unknown, i) => {
      const name = isObj(spec) ? spec['name'] : undefined;
      if (typeof name !== 'string') fail(ctx, `weightsManifest[${g}].weights[${i}].name`, 'a weight name', brief(name));
      const field = `weightsManifest[${g}].weights[${i}] ('${name}').shape`;
      const shape = checkSpecShape(ctx, (spec as Obj)['shape'], field);
      if (!specs.has(name)) specs.set(name, { shape, field });
    });
  });
  return specs;
}

function checkSpecShape(ctx: Ctx, shape: unknown, field: string): number[] {
  if (!Array.isArray(shape)) fail(ctx, field, 'an array of dimensions', brief(shape));
  let elements = 1;
  shape.forEach((d: unknown, i) => {
    if (!isIndex(d)) fail(ctx, `${field}[${i}]`, 'an integer >= 0', brief(d));
    elements *= d;
  });
  const max = ctx.limits.maxWeightElements;
  if (elements > max) fail(ctx, field, `at most ${max} elements`, elements, 'a declared weight this large is refused, not allocated');
  return shape as number[];
}

/** Every well-formed layer of the topology and its nested models (lenient: skips the rest). */
function listLayers(json: Obj): Array<{ cls: string; name: string; config: Obj }> {
  const out: Array<{ cls: string; name: string; config: Obj }> = [];
  const topo = json['modelTopology'];
  const queue: unknown[] = [isObj(topo) && topo['model_config'] != null ? topo['model_config'] : topo];
  while (queue.length > 0) {
    const model = queue.pop();
    for (const layer of isObj(model) ? modelLayers(pick(model, 'config')) : []) {
      if (!isObj(layer)) continue;
      const cls = pick(layer, 'className');
      const config = pick(layer, 'config');
      if (typeof cls !== 'string' || !isObj(config)) continue;
      const name = pick(layer, 'name') ?? pick(config, 'name');
      if (typeof name === 'string') out.push({ cls: tfjsKey(cls), name, config });
      if (MODEL_CLASSES.has(tfjsKey(cls))) queue.push(layer);
    }
  }
  return out;
}

function modelLayers(config: unknown): unknown[] {
  if (Array.isArray(config)) return config;
  const layers = isObj(config) ? pick(config, 'layers') : undefined;
  return Array.isArray(layers) ? layers : [];
}
