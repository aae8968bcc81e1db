/**
 * Quantisation-aware training on tf.layers models:
 * - calibrateRanges: the float range of every layer's output(s) over calibration inputs (observers),
 * - withFakeQuant: the same model (same layer objects, so shared weights) with a FakeQuant layer
 *   after the outputs of the named layers; detachFakeQuant when done with it,
 * - qatWeightHooks: the swap trick for weights. before() replaces every conv / depthwise / dense
 *   kernel by its per-channel fake-quantised value, the loss and gradients are computed with it,
 *   after() restores the float values and the optimizer applies the gradients to them: exactly
 *   the straight-through estimator for weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import * as tflayers from '@tensorflow/tfjs-layers';
import { ConfigError, modelGraph, runGraph } from '@tinyblocks/core';
import { createObserver, type Observer, type ObserverMethod, type PercentileOptions } from './calibrate.js';
import { FakeQuant, fakeQuantPerChannel } from './fake-quant.js';

type Layer = tfl.LayersModel['layers'][number];
type Symbolic = tfl.SymbolicTensor;

/** A float range of one tensor. */
export interface ActivationRange {
  min: number;
  max: number;
}

/** Ranges by layer name: one range for every output, or one per output (multi-output layers). */
export type LayerRanges = Record<string, ActivationRange | ActivationRange[]>;

export interface CalibrateRangesOptions extends PercentileOptions {
  /** Inputs per forward pass (default 128); observers accumulate over all of them. */
  batchSize?: number;
}

function asArray<T>(x: T | T[]): T[] {
  return Array.isArray(x) ? x : [x];
}

/**
 * The range of every layer's output(s) (and of every model input, under the input layer's name)
 * over `inputs` (one tensor per model input, batch first), with a calibration observer ('minmax'
 * or 'percentile'). Multi-output layers (e.g. a concept bottleneck's [logits, concepts]) get one
 * range per output. Runs in inference mode. The model must not be wrapped by withFakeQuant at the
 * time (its layers would be called twice).
 */
export function calibrateRanges(
  model: tfl.LayersModel,
  inputs: tf.Tensor | tf.Tensor[],
  method: ObserverMethod = 'minmax',
  options: CalibrateRangesOptions = {},
): LayerRanges {
  const list = asArray(inputs);
  const where = { op: 'calibrateRanges' };
  if (list.length !== model.inputs.length) {
    throw new ConfigError(where, 'inputs', `${model.inputs.length} tensor(s), one per model input`, list.length);
  }
  const count = list[0]!.shape[0] ?? 0;
  if (count < 1 || list.some((t) => t.shape[0] !== count)) {
    throw new ConfigError(where, 'inputs', 'tensors with the same batch size >= 1', list.map((t) => t.shape[0]));
  }
  const batchSize = options.batchSize ?? 128;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(where, 'batchSize', 'a positive integer', batchSize);
  const { batchSize: _unused, ...observerOptions } = options;
  const graph = modelGraph(model);
  // (layer name, output index) for every tensor name of the graph
  const owners = new Map<string, { layer: string; index: number; of: number }>();
  model.inputLayers.forEach((layer, i) => owners.set(graph.inputs[i]!, { layer: layer.name, index: 0, of: 1 }));
  for (const node of graph.nodes) {
    node.outputs.forEach((name, index) => owners.set(name, { layer: node.layer.name, index, of: node.outputs.length }));
  }
  const observers = new Map<string, Observer>();
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    tf.tidy(() => {
      const batch = list.map((t) => tf.slice(t, start, size));
      const values = runGraph(graph, batch);
      for (const [name, tensor] of values) {
        const owner = owners.get(name);
        if (!owner) continue;
        let obs = observers.get(name);
        if (!obs) observers.set(name, (obs = createObserver(method, observerOptions)));
        obs.observe(tensor.dataSync());
      }
    });
  }
  const ranges: LayerRanges = {};
  for (const [name, owner] of owners) {
    const obs = observers.get(name);
    if (!obs) continue;
    const r = obs.range();
    if (owner.of === 1) ranges[owner.layer] = r;
    else {
      const arr = (ranges[owner.layer] as ActivationRange[] | undefined) ?? new Array<ActivationRange>(owner.of);
      arr[owner.index] = r;
      ranges[owner.layer] = arr;
    }
  }
  return ranges;
}

export interface WithFakeQuantOptions {
  /** EMA momentum for the FakeQuant layers (ranges then track training batches); default fixed. */
  momentum?: number;
  qmin?: number;
  qmax?: number;
}

/** The graph nodes a wrapper's layer calls created, and the layers that hold them. */
interface CreatedNodes {
  nodes: Set<unknown>;
  layers: Set<Layer>;
}

interface Wrapping {
  original: tfl.LayersModel;
  created: CreatedNodes;
  fakeQuants: Map<string, FakeQuant[]>;
}

const wrappings = new WeakMap<tfl.LayersModel, Wrapping>();

type GraphNodeInternals = {
  outboundLayer: Layer;
  inputTensors: Symbolic[];
  outputTensors: Symbolic[];
  callArgs?: Record<string, unknown>;
};
type LayerInternals = { inboundNodes: unknown[]; outboundNodes: unknown[]; _refCount: number | null };

function nodesByDepth(model: tfl.LayersModel): GraphNodeInternals[][] {
  const byDepth = (model as unknown as { nodesByDepth: Record<string, GraphNodeInternals[]> }).nodesByDepth;
  return Object.keys(byDepth)
    .map(Number)
    .sort((a, b) => b - a) // inputs have the highest depth: this is topological order
    .map((d) => byDepth[d]!);
}

function rangeFor(where: { op: string }, name: string, spec: ActivationRange | ActivationRange[], outputs: number): ActivationRange[] {
  const list = Array.isArray(spec) ? spec : Array.from({ length: outputs }, () => spec);
  if (list.length !== outputs) {
    throw new ConfigError(where, `ranges['${name}']`, `one range or ${outputs} ranges (one per output)`, `${list.length} ranges`);
  }
  list.forEach((r, i) => {
    const ok = r && Number.isFinite(r.min) && Number.isFinite(r.max) && r.min <= r.max;
    if (!ok) throw new ConfigError(where, `ranges['${name}']${Array.isArray(spec) ? `[${i}]` : ''}`, '{min, max} finite with min <= max', r);
  });
  return list;
}

/**
 * A new LayersModel computing the same graph with the SAME layer objects (so it shares every
 * weight with `model`) and a FakeQuant layer after each output of every layer named in `ranges`
 * (an input layer's name fake-quantises that model input). Handles multi-input graphs and
 * multi-output layers. Training the returned model trains `model`.
 *
 * Calling the layers again adds graph nodes to them: while the wrapper exists the layers are
 * "shared", which modelGraph (int8 lowering, calibration) refuses. Call detachFakeQuant(wrapped)
 * when done: it removes those nodes and leaves `model` exactly as before.
 */
export function withFakeQuant(model: tfl.LayersModel, ranges: LayerRanges, options: WithFakeQuantOptions = {}): tfl.LayersModel {
  const where = { op: 'withFakeQuant' };
  const graph = nodesByDepth(model);
  // validate everything before calling any layer (a call adds a node to it)
  const outputsPerLayer = new Map<string, number>();
  for (const nodes of graph) for (const n of nodes) outputsPerLayer.set(n.outboundLayer.name, n.outputTensors.length);
  const perLayer = new Map<string, ActivationRange[]>();
  for (const [name, spec] of Object.entries(ranges)) {
    const outputs = outputsPerLayer.get(name);
    if (outputs === undefined) throw new ConfigError(where, 'ranges', `layer names of model '${model.name}'`, name);
    perLayer.set(name, rangeFor(where, name, spec, outputs));
  }
  const taken = new Set(model.layers.map((l) => l.name));
  const uniqueName = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const fakeQuants = new Map<string, FakeQuant[]>();
  const created: CreatedNodes = { nodes: new Set(), layers: new Set() };
  const mapped = new Map<number, Symbolic>(); // original symbolic tensor id -> the wrapper's tensor
  const call = (layer: Layer, inputs: Symbolic | Symbolic[], kwargs: Record<string, unknown>): Symbolic[] => {
    const out = layer.apply(inputs, kwargs) as Symbolic | Symbolic[];
    const inbound = (layer as unknown as LayerInternals).inboundNodes;
    created.nodes.add(inbound[inbound.length - 1]);
    created.layers.add(layer);
    for (const t of asArray(inputs)) created.layers.add(t.sourceLayer as Layer);
    return asArray(out);
  };

  try {
    for (const nodes of graph) {
      for (const node of nodes) {
        const layer = node.outboundLayer;
        let outs = node.outputTensors;
        if (layer.getClassName() !== 'InputLayer') {
          const ins = node.inputTensors.map((t) => {
            const m = mapped.get(t.id);
            if (!m) throw new ConfigError(where, 'model', 'a graph whose nodes are in topological order', `no input for layer '${layer.name}'`);
            return m;
          });
          outs = call(layer, ins.length === 1 ? ins[0]! : ins, node.callArgs ?? {});
        }
        const list = perLayer.get(layer.name);
        const q = !list
          ? outs
          : outs.map((t, i) => {
              const fq = new FakeQuant({
                name: uniqueName(outs.length === 1 ? `${layer.name}_fq` : `${layer.name}_fq${i}`),
                min: list[i]!.min,
                max: list[i]!.max,
                qmin: options.qmin,
                qmax: options.qmax,
                momentum: options.momentum,
              });
              fakeQuants.set(layer.name, [...(fakeQuants.get(layer.name) ?? []), fq]);
              return call(fq, t, {})[0]!;
            });
        node.outputTensors.forEach((t, i) => mapped.set(t.id, q[i]!));
      }
    }
    const outputs = model.outputs.map((t) => mapped.get(t.id)!);
    const wrapped = tflayers.model({ name: `${model.name}_fq`, inputs: model.inputs, outputs });
    wrappings.set(wrapped, { original: model, created, fakeQuants });
    return wrapped;
  } catch (err) {
    removeNodes(created);
    throw err;
  }
}

/** Takes the nodes a wrapper added off the layers again (and the references they counted). */
function removeNodes(created: CreatedNodes): void {
  for (const layer of created.layers) {
    const l = layer as unknown as LayerInternals;
    const calls = l.inboundNodes.filter((n) => created.nodes.has(n)).length;
    for (const list of [l.inboundNodes, l.outboundNodes]) {
      for (let i = list.length - 1; i >= 0; i--) if (created.nodes.has(list[i])) list.splice(i, 1);
    }
    // each symbolic call counted a reference to the layer (tf.layers disposes weights at 0)
    if (typeof l._refCount === 'number' && calls > 0) l._refCount = Math.max(1, l._refCount - calls);
  }
}

/** The FakeQuant layers withFakeQuant added, by the name of the layer they follow. */
export function fakeQuantLayers(wrapped: tfl.LayersModel): Map<string, FakeQuant[]> {
  const w = wrappings.get(wrapped);
  if (!w) throw new ConfigError({ op: 'fakeQuantLayers' }, 'model', 'a model returned by withFakeQuant', wrapped.name);
  return new Map(w.fakeQuants);
}

/** The current ranges of a wrapper's FakeQuant layers (EMA-tracked ones move during training). */
export function fakeQuantRanges(wrapped: tfl.LayersModel): LayerRanges {
  const out: LayerRanges = {};
  for (const [name, fqs] of fakeQuantLayers(wrapped)) {
    const rs = fqs.map((f) => f.range());
    if (rs.some((r) => r === null)) continue;
    out[name] = rs.length === 1 ? rs[0]! : (rs as ActivationRange[]);
  }
  return out;
}

/**
 * Removes the graph nodes withFakeQuant added to the shared layers, so the original model is a
 * plain single-use graph again (modelGraph works on it; model.dispose() frees its weights). The
 * wrapper must not be used afterwards (its dispose() becomes a no-op). Returns the original model.
 */
export function detachFakeQuant(wrapped: tfl.LayersModel): tfl.LayersModel {
  const w = wrappings.get(wrapped);
  if (!w) throw new ConfigError({ op: 'detachFakeQuant' }, 'model', 'a model returned by withFakeQuant (not yet detached)', wrapped.name);
  removeNodes(w.created);
  // disposing the detached wrapper must not dispose the layers it shares with the original
  (wrapped as unknown as { dispose: () => unknown }).dispose = () => ({ refCountAfterDispose: 0, numDisposedVariables: 0 });
  wrappings.delete(wrapped);
  return w.original;
}

/** One weight the swap trick fake-quantises. */
export interface QatKernel {
  layer: string;
  /** The weight's name (e.g. 'conv1/kernel'). */
  weight: string;
  variable: tf.Variable;
  /** Per-channel fake quantisation of a value of this weight (symmetric int8, output channels). */
  quantize(value: tf.Tensor): tf.Tensor;
}

/**
 * Kernels of conv2d / dense / depthwise layers and of custom layers with dense kernels (any weight
 * whose name ends in 'kernel', e.g. an early-exit head's kernel, a concept bottleneck's
 * concept_kernel and head_kernel). Output channels are the last axis (the one before it for
 * Conv2DTranspose [kh, kw, out, in]); a depthwise kernel [kh, kw, in, multiplier] has
 * in*multiplier output channels (TFLite's [1, kh, kw, in*mult] layout).
 */
export function qatKernels(model: tfl.LayersModel): QatKernel[] {
  const out: QatKernel[] = [];
  for (const layer of model.layers) {
    const transposed = layer.getClassName() === 'Conv2DTranspose';
    for (const w of layer.weights) {
      const base = w.originalName.split('/').pop() ?? w.originalName;
      if (!base.endsWith('kernel') || w.shape.length < 2 || w.dtype !== 'float32') continue;
      const shape = w.shape.slice() as number[];
      const depthwise = base === 'depthwise_kernel' && shape.length === 4;
      const quantize = depthwise
        ? (v: tf.Tensor) => tf.tidy(() => tf.reshape(fakeQuantPerChannel(tf.reshape(v, [shape[0]!, shape[1]!, shape[2]! * shape[3]!]), -1), shape))
        : (v: tf.Tensor) => fakeQuantPerChannel(v, transposed ? -2 : -1);
      out.push({ layer: layer.name, weight: w.originalName, variable: w.read() as tf.Variable, quantize });
    }
  }
  return out;
}

export interface QatWeightHooks {
  /** The weights the hooks swap. */
  kernels: QatKernel[];
  /** Saves the float kernels and writes their fake-quantised values into the variables. */
  before(): void;
  /** Writes the saved float kernels back (call after computing gradients, before applying them). */
  after(): void;
  /** Restores the float kernels if they are swapped out, and frees the saved copies. */
  dispose(): void;
}

/**
 * Weight fake quantisation by swapping variable values around each training step (pass as
 * trainModel's weightHooks): gradients are computed at the fake-quantised kernels and applied to
 * the float ones, i.e. the STE with identity gradient. Also use before()/after() around evaluation
 * to see the quantised weights.
 */
export function qatWeightHooks(model: tfl.LayersModel): QatWeightHooks {
  const kernels = qatKernels(model);
  let saved: tf.Tensor[] | null = null;
  const restore = () => {
    if (!saved) return;
    const s = saved;
    saved = null;
    kernels.forEach((k, i) => k.variable.assign(s[i]!));
    tf.dispose(s);
  };
  return {
    kernels,
    before() {
      if (saved) throw new ConfigError({ op: 'qatWeightHooks.before' }, 'state', 'after() called since the last before()', 'before() twice');
      saved = kernels.map((k) => tf.keep(tf.clone(k.variable)));
      tf.tidy(() => {
        for (const k of kernels) k.variable.assign(k.quantize(k.variable));
      });
    },
    after() {
      if (!saved) throw new ConfigError({ op: 'qatWeightHooks.after' }, 'state', 'a before() first', 'after() without before()');
      restore();
    },
    dispose: restore,
  };
}
