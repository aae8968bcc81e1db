/**
 * Post-training quantization: a trained tf.layers model + a calibration set -> an int8 graph.
 *
 *   1. calibrate: run the float model layer by layer (core's runGraph) over the calibration
 *      batches and observe every tensor's range (min/max or percentile), plus two tensors that
 *      live inside blocks: an early-exit head's pooled features and the concept logits.
 *   2. lower: walk the layers in execution order and emit int8 nodes (ops in @tinyblocks/int8):
 *      BatchNormalization folds into the conv/dense before it; Delta fuses with the Dense after
 *      it into one stateful delta_dense; elementwise blocks (CRReLU, PolyReLU, activations)
 *      become 256-entry tables; EvoNorm B0/S0 and PolyNorm become integer kernels; an early-exit
 *      head becomes mix_pool -> dense -> exit_decision; the concept bottleneck becomes
 *      dense (concept logits) -> concept_intervene -> dense head, with a sigmoid table for the
 *      concepts output.
 * Unsupported layers fail with a ConfigError naming the layer and its class.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  ConfigError,
  DataError,
  type GraphNode,
  isElementwiseLayer,
  modelGraph,
  runGraph as runFloatGraph,
} from '@tinyblocks/core';
import {
  INT8_GRAPH_FORMAT,
  INT8_GRAPH_VERSION,
  type Int8Graph,
  type Int8Node,
  type OutputRole,
  type QuantParams,
  type TensorInfo,
  lowerAvgPool2d,
  lowerMaxPool2d,
  lowerSoftmax,
  lowerPad2d,
  lowerConcat,
  lowerUpsample2d,
  SOFTMAX_OUTPUT,
  lowerConceptIntervene,
  lowerConv2d,
  lowerDeltaDense,
  lowerDense,
  lowerDepthwiseConv2d,
  lowerEvoNormB0,
  lowerEvoNormS0,
  lowerExitDecision,
  lowerLut,
  lowerMixPool,
  lowerPolyNorm,
  lowerReshape,
  lowerAdd,
  roundHalfAway,
  validateGraph,
} from '@tinyblocks/int8';
import { createObserver, type Observer, type ObserverMethod } from './calibrate.js';
import { equalizeOutlierChannels, type EqualizeOptions } from './equalize.js';
import { type LoweringContext, loweringOf, lowerableLayers, registerLowering } from './lowering.js';

/** Calibration input batches: an iterable, or a function returning a fresh one (read twice when equalizing). */
export type Calibration = Iterable<tf.Tensor> | (() => Iterable<tf.Tensor>);

export interface QuantizeOptions {
  /** Range estimation: 'percentile' (default, outlier-robust: clips each tail at its 99.99th percentile) or 'minmax'. */
  method?: ObserverMethod;
  /** Percentile kept by the 'percentile' method (default: the observer's, 99.99). */
  percentile?: number;
  /**
   * Confidence an early-exit head needs to answer (max softmax >= threshold; default 0.99); an
   * array gives one threshold per exit head, in the model's layer order.
   */
  exitThreshold?: number | number[];
  /** Graph (and C symbol) name; default the model's name. */
  name?: string;
  /** Output roles; default the model's tinyblocks metadata, else ['logits', 'exit', ...]. */
  outputRoles?: OutputRole[];
  /** Called after each calibration batch. */
  onProgress?: (done: number, total: number) => void;
  /** Number of calibration batches, when known (for onProgress). */
  totalBatches?: number;
  /**
   * Outlier-channel equalization before calibration (default true; see equalize.ts): exact for
   * ReLU / linear, approximate for CRReLU. The model's weights are restored afterwards.
   */
  equalize?: boolean | EqualizeOptions;
  /** Provenance stored in graph.meta (e.g. the model path). */
  meta?: Record<string, unknown>;
}

type Layer = tfl.LayersModel['layers'][number];
type AnyLayer = Layer & Record<string, unknown>;
const className = (layer: Layer) => layer.getClassName();

/** A JS function for a tf.layers Activation (the ones a table can represent). */
const ACTIVATIONS: Record<string, (x: number) => number> = {
  linear: (x) => x,
  relu: (x) => Math.max(x, 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  elu: (x) => (x >= 0 ? x : Math.exp(x) - 1),
  softplus: (x) => Math.log1p(Math.exp(-Math.abs(x))) + Math.max(x, 0),
  swish: (x) => x / (1 + Math.exp(-x)),
  hardSigmoid: (x) => Math.min(Math.max(0.2 * x + 0.5, 0), 1),
  selu: (x) => 1.0507009873554805 * (x >= 0 ? x : 1.6732632423543772 * (Math.exp(x) - 1)),
  softsign: (x) => x / (1 + Math.abs(x)),
  mish: (x) => x * Math.tanh(Math.log1p(Math.exp(-Math.abs(x))) + Math.max(x, 0)),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_new: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
};

/** erf to ~1e-7 (Abramowitz & Stegun 7.1.26): finer than any int8 table step. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

/** The float function of an activation layer with parameters (LeakyReLU, ELU, ThresholdedReLU), for its table. */
function parametricActivation(layer: Layer): { fn: (x: number) => number; fnName: string } | null {
  const cfg = layer.getConfig() as { alpha?: number; theta?: number };
  switch (className(layer)) {
    case 'LeakyReLU': {
      const a = cfg.alpha ?? 0.3;
      return { fn: (x) => (x >= 0 ? x : a * x), fnName: `leaky_relu(alpha ${a})` };
    }
    case 'ELU': {
      const a = cfg.alpha ?? 1;
      return { fn: (x) => (x >= 0 ? x : a * (Math.exp(x) - 1)), fnName: `elu(alpha ${a})` };
    }
    case 'ThresholdedReLU': {
      const t = cfg.theta ?? 1;
      return { fn: (x) => (x > t ? x : 0), fnName: `thresholded_relu(theta ${t})` };
    }
    default:
      return null;
  }
}
const sigmoid = ACTIVATIONS['sigmoid']!;
const FUSABLE_ACTIVATIONS = ['linear', 'relu', 'relu6'] as const;

function activationName(layer: Layer): string {
  const a = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof a === 'string' ? a : 'linear';
}

function fusedActivation(layer: Layer): 'linear' | 'relu' | 'relu6' {
  const a = activationName(layer);
  if (!(FUSABLE_ACTIVATIONS as readonly string[]).includes(a)) {
    throw new ConfigError({ layer: layer.name }, 'activation', `one of ${FUSABLE_ACTIVATIONS.join(', ')} (fused into the int8 kernel)`, a, a === 'softmax' ? 'softmax is lowered in a Dense, or as an Activation / Softmax layer after this one' : 'use a separate Activation layer');
  }
  return a as 'linear' | 'relu' | 'relu6';
}

/**
 * A conv / dense activation that is not a clamp (sigmoid, tanh, gelu, ...): the kernel then writes
 * its pre-activation (calibrated separately) and a 256-entry table applies the function.
 */
function tableActivation(layer: Layer): ((x: number) => number) | null {
  const a = activationName(layer);
  if ((FUSABLE_ACTIVATIONS as readonly string[]).includes(a) || a === 'softmax') return null;
  return Object.hasOwn(ACTIVATIONS, a) ? ACTIVATIONS[a]! : null;
}

/** The float pre-activation of a conv / dense layer on `x` (for calibrating it). */
function preActivation(layer: Layer, x: tf.Tensor): tf.Tensor {
  const cfg = layer.getConfig() as { strides?: number | number[]; padding?: 'same' | 'valid' };
  const [kernel, bias] = layer.getWeights();
  return tf.tidy(() => {
    const pad = cfg.padding ?? 'valid';
    let y: tf.Tensor;
    switch (className(layer)) {
      case 'Conv2D': y = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, pair(cfg.strides, 1), pad); break;
      case 'DepthwiseConv2D': y = tf.depthwiseConv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, pair(cfg.strides, 1), pad); break;
      default: y = tf.reshape(tf.matMul(tf.reshape(x, [-1, kernel!.shape[0]!]), kernel as tf.Tensor2D), [...x.shape.slice(0, -1), kernel!.shape[1]!]);
    }
    return bias ? tf.add(y, bias) : y;
  });
}

/** 'relu' / 'relu6' when `layer` is a ReLU the int8 kernels can apply as their output clamp. */
function fusableRelu(layer: Layer): 'relu' | 'relu6' | null {
  const cls = className(layer);
  if (cls === 'ReLU') {
    const maxValue = (layer.getConfig() as { maxValue?: number | null }).maxValue;
    return maxValue == null ? 'relu' : maxValue === 6 ? 'relu6' : null;
  }
  if (cls === 'Activation') {
    const a = activationName(layer);
    return a === 'relu' || a === 'relu6' ? a : null;
  }
  return null;
}

function unsupported(name: string, cls: string): ConfigError {
  return new ConfigError({ layer: name }, 'class', `a layer with an int8 lowering (${lowerableLayers().join(', ')}; or one registered with registerLowering)`, cls);
}

/**
 * Every layer checked for a lowering (and its own check: a fusable activation, a table it can
 * build) before any calibration runs: an unsupported layer fails in milliseconds, naming the
 * layer and its class.
 */
export function checkLowerable(model: tfl.LayersModel): void {
  for (const node of modelGraph(model).nodes) {
    const cls = className(node.layer);
    const lowering = loweringOf(cls);
    if (!lowering) throw unsupported(node.layer.name, cls);
    lowering.check?.(node.layer);
  }
}

/** A tf.layers size or stride given as n or [h, w] (default `dflt`) as [h, w]. */
function pair(v: number | number[] | null | undefined, dflt: number): [number, number] {
  return Array.isArray(v) ? [v[0]!, v[1] ?? v[0]!] : [v ?? dflt, v ?? dflt];
}

function weights(layer: Layer): Float32Array[] {
  return layer.getWeights().map((w) => w.dataSync() as Float32Array);
}

function roles(model: tfl.LayersModel, options: QuantizeOptions): OutputRole[] {
  if (options.outputRoles) return options.outputRoles;
  const meta = model.getUserDefinedMetadata() as { tinyblocks?: { outputRoles?: OutputRole[] } } | undefined;
  return meta?.tinyblocks?.outputRoles ?? model.outputs.map((_, i) => (i === 0 ? 'logits' : 'exit'));
}

// ---------------------------------------------------------------- calibration

/** What an EarlyExitHead's params() gives (grid and 'concat' since 0.1; absent: 1 and mix pooling). */
interface HeadParams {
  pooling?: string;
  mix: number;
  grid?: number;
  channels: number;
  numClasses: number;
  kernel: number[];
  bias: number[];
}

/** Observed ranges by symbolic tensor name, plus '<layer>/pooled' and '<layer>/z' inner tensors. */
export type Ranges = Map<string, Observer>;

/**
 * The early-exit head's pooling of [B, ...spatial, C] data to [B, features], per sample: per region
 * of a g x g grid over [B, H, W, C] (g = 1: all positions; row-major), a*max + (1-a)*mean, or
 * [mean, max] with concat (the order of the head's kernel rows).
 */
export function mixPoolFloat(data: Float32Array, shape: number[], a: number, grid = 1, concat = false): Float32Array {
  const b = shape[0]!;
  const c = shape[shape.length - 1]!;
  const [h, w] = grid === 1 ? [1, data.length / (b * c)] : [shape[1]!, shape[2]!];
  const [rh, rw] = [h / grid, w / grid];
  const parts = concat ? 2 : 1;
  const features = grid * grid * parts * c;
  const out = new Float32Array(b * features);
  for (let s = 0; s < b; s++) {
    for (let r = 0; r < grid * grid; r++) {
      const y0 = Math.floor(r / grid) * rh;
      const x0 = (r % grid) * rw;
      for (let ch = 0; ch < c; ch++) {
        let max = -Infinity;
        let sum = 0;
        for (let i = 0; i < rh; i++) {
          for (let j = 0; j < rw; j++) {
            const v = data[((s * h + y0 + i) * w + x0 + j) * c + ch]!;
            if (v > max) max = v;
            sum += v;
          }
        }
        const o = s * features + r * parts * c + ch;
        if (concat) [out[o], out[o + c]] = [sum / (rh * rw), max];
        else out[o] = a * max + (1 - a) * (sum / (rh * rw));
      }
    }
  }
  return out;
}

function denseFloat(x: Float32Array, d: number, kernel: Float32Array, bias: Float32Array): Float32Array {
  const n = bias.length;
  const rows = x.length / d;
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let acc = bias[j]!;
      for (let i = 0; i < d; i++) acc += x[r * d + i]! * kernel[i * n + j]!;
      out[r * n + j] = acc;
    }
  }
  return out;
}

/** Observes every tensor of the float model over the calibration batches. */
export function calibrateModel(model: tfl.LayersModel, batches: Iterable<tf.Tensor>, options: QuantizeOptions = {}): Ranges {
  const graph = modelGraph(model);
  const method = options.method ?? 'percentile';
  const ranges: Ranges = new Map();
  const observe = (name: string, values: ArrayLike<number>) => {
    let o = ranges.get(name);
    if (!o) ranges.set(name, (o = createObserver(method, options.percentile !== undefined ? { percentile: options.percentile } : {})));
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        throw new DataError({ layer: name.split('/')[0]! }, `output '${name}' on calibration batch ${done + 1}`, 'finite values', String(values[i]), 'the float model overflows on the calibration data: check its weights and the input scaling');
      }
    }
    o.observe(values);
  };
  let done = 0;
  for (const batch of batches) {
    const values = runFloatGraph(graph, batch);
    try {
      for (const [name, t] of values) observe(name, t.dataSync() as Float32Array);
      for (const node of graph.nodes) {
        const layer = node.layer as AnyLayer;
        const x = values.get(node.inputs[0]!);
        if (!x) continue;
        loweringOf(className(layer))?.calibrate?.({ layer, node, x, values, observe });
      }
    } finally {
      for (const [name, t] of values) if (!graph.inputs.includes(name)) t.dispose();
    }
    done++;
    options.onProgress?.(done, options.totalBatches ?? done);
  }
  if (done === 0) throw new DataError({ op: 'calibrateModel' }, 'batches', 'at least one calibration batch', 0);
  return ranges;
}

// ---------------------------------------------------------------- lowering

class GraphBuilder {
  readonly tensors: TensorInfo[] = [];
  readonly nodes: Int8Node[] = [];
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly ranges: Ranges,
    /** Symbolic tensor name -> a name stable across model loads (tfjs uniquifies symbolic names per process). */
    private readonly stable: Map<string, string>,
  ) {}

  params(name: string, where: string): QuantParams {
    const o = this.ranges.get(name);
    if (!o) throw new DataError({ layer: where }, 'calibration', `observed values for tensor '${name}'`, 'none');
    return o.params();
  }

  /** Adds tensor `name` (a symbolic tensor name) with quantization `q`; returns its id (existing: the same id). */
  add(name: string, shape: number[], q: QuantParams): number {
    if (this.ids.has(name)) return this.ids.get(name)!;
    this.tensors.push({ name: this.stable.get(name) ?? name, shape, scale: q.scale, zeroPoint: q.zeroPoint });
    this.ids.set(name, this.tensors.length - 1);
    return this.tensors.length - 1;
  }

  id(name: string, where: string): number {
    const id = this.ids.get(name);
    if (id === undefined) throw new ConfigError({ layer: where }, 'input', 'a tensor produced by an earlier lowered layer', name);
    return id;
  }

  /** `name` is the same tensor as `id` (an inference no-op layer: Dropout and kin). */
  alias(name: string, id: number): void {
    this.ids.set(name, id);
  }

  info(id: number): TensorInfo {
    return this.tensors[id]!;
  }

  push(node: Int8Node): void {
    this.nodes.push(node);
  }

  /** Nodes lowered from early-exit heads: scheduled as soon as their inputs exist. */
  readonly early = new Set<string>();

  /**
   * Execution order: the layers' order, except that early-exit nodes run right after the node
   * producing their input, so a taken exit skips everything after it.
   */
  schedule(input: number): Int8Node[] {
    const ready = new Set<number>([input]);
    const out: Int8Node[] = [];
    const pending = this.nodes.filter((n) => this.early.has(n.name));
    const place = (n: Int8Node) => {
      out.push(n);
      n.outputs.forEach((t) => ready.add(t));
    };
    const flush = () => {
      for (let i = 0; i < pending.length; ) {
        if (pending[i]!.inputs.every((t) => ready.has(t))) {
          place(pending.splice(i, 1)[0]!);
          i = 0;
        } else i++;
      }
    };
    flush();
    for (const n of this.nodes) {
      if (this.early.has(n.name)) continue;
      place(n);
      flush();
    }
    return [...out, ...pending];
  }
}

function featureShape(shape: Array<number | null>): number[] {
  return shape.slice(1).map((d) => d ?? 1);
}

/**
 * Symbolic tensor name -> the name its int8 tensor gets: the input layer's name, the producing
 * layer's name, or `<layer>:<k>` for a layer with several outputs (stable across model loads,
 * where tfjs's symbolic names are not).
 */
export function stableTensorNames(model: tfl.LayersModel, graph: ReturnType<typeof modelGraph> = modelGraph(model)): Map<string, string> {
  const stable = new Map<string, string>();
  graph.inputs.forEach((t, i) => stable.set(t, model.inputLayers[i]?.name ?? `input${i}`));
  for (const n of graph.nodes) n.outputs.forEach((t, k) => stable.set(t, n.outputs.length > 1 ? `${n.layer.name}:${k}` : n.layer.name));
  return stable;
}

/** Quantizes a calibrated model into an int8 graph (validated). */
export function lowerModel(model: tfl.LayersModel, ranges: Ranges, options: QuantizeOptions = {}): Int8Graph {
  const graph = modelGraph(model);
  const stable = stableTensorNames(model, graph);
  const b = new GraphBuilder(ranges, stable);
  const consumers = new Map<string, GraphNode[]>();
  for (const n of graph.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const only = (tensor: string) => {
    const c = consumers.get(tensor) ?? [];
    return c.length === 1 && !graph.outputs.includes(tensor) ? c[0]! : null;
  };
  if (model.inputs.length !== 1) throw new ConfigError({ op: 'quantizeModel' }, 'inputs', '1 model input', model.inputs.length);
  const inputName = graph.inputs[0]!;
  const input = b.add(inputName, featureShape(model.inputs[0]!.shape), b.params(inputName, 'input'));
  const exitThreshold = options.exitThreshold ?? 0.99;
  let exitIndex = 0;
  const thresholdOf = (where: string): number => {
    const t = Array.isArray(exitThreshold) ? exitThreshold[exitIndex] : exitThreshold;
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      throw new ConfigError({ layer: where }, 'exitThreshold', `a number for exit head ${exitIndex + 1}`, Array.isArray(exitThreshold) ? exitThreshold : t);
    }
    exitIndex++;
    return t;
  };
  const skip = new Set<Layer>();

  for (const node of graph.nodes) {
    const layer = node.layer as AnyLayer;
    if (skip.has(layer)) continue;
    const name = layer.name;
    const cls = className(layer);
    const inName = node.inputs[0]!;
    const outName = node.outputs[0]!;
    const outShape = featureShape(node.outputShapes[0]!);
    const newOut = (tensorName: string, shape: number[], q?: QuantParams) => b.add(tensorName, shape, q ?? b.params(tensorName, name));
    const early = (node: Int8Node) => {
      b.early.add(node.name);
      b.push(node);
    };
    const io = () => {
      const i = b.id(inName, name);
      return { i, inInfo: b.info(i) };
    };

    const ctx: LoweringContext = { layer, node, graph, name, cls, inName, outName, outShape, b, io, newOut, early, only, skip, thresholdOf };
    const lowering = loweringOf(cls);
    if (!lowering) throw unsupported(name, cls);
    lowering.lower(ctx);
  }

  const outputRoles = roles(model, options);
  const result: Int8Graph = {
    format: INT8_GRAPH_FORMAT,
    version: INT8_GRAPH_VERSION,
    name: cIdentifier(options.name ?? model.name),
    tensors: b.tensors,
    nodes: b.schedule(input),
    input,
    outputs: graph.outputs.map((t, k) => ({ tensor: b.id(t, 'outputs'), role: outputRoles[k] ?? 'exit' })),
    meta: { exitThreshold, calibration: options.method ?? 'percentile', ...(options.meta ?? {}) },
  };
  validateGraph(result);
  return result;
}

function inputIsDelta(node: GraphNode, graph: ReturnType<typeof modelGraph>): boolean {
  const producer = graph.nodes.find((n) => n.outputs.includes(node.inputs[0]!));
  return producer !== undefined && className(producer.layer) === 'Delta';
}

function cIdentifier(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(s) ? s : `m_${s}`;
}

/**
 * Folds y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta into the conv:
 * kernel[..., c] *= g[c], bias[c] = (b[c] - mean[c]) * g[c] + beta[c], g = gamma / sqrt(var + eps).
 * The output channel is the last kernel axis for Conv2D / Dense, the third for DepthwiseConv2D.
 */
export function foldBatchNorm(
  bn: Layer,
  kernel: Float32Array,
  bias: Float32Array | undefined,
  cls: string,
): { kernel: Float32Array; bias: Float32Array } {
  const cfg = bn.getConfig() as { axis?: number | number[]; epsilon?: number; center?: boolean; scale?: boolean };
  const axis = Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis;
  if (axis !== undefined && axis !== -1 && axis !== (bn.inputSpec?.[0]?.ndim ?? 0) - 1) {
    throw new ConfigError({ layer: bn.name }, 'axis', '-1 (the channel axis) to fold into the layer before', cfg.axis);
  }
  const byName = new Map(bn.weights.map((w) => [w.originalName.split('/').pop()!, w.read().dataSync() as Float32Array]));
  const mean = byName.get('moving_mean')!;
  const variance = byName.get('moving_variance')!;
  const c = mean.length;
  const gamma = byName.get('gamma') ?? new Float32Array(c).fill(1);
  const beta = byName.get('beta') ?? new Float32Array(c).fill(0);
  const eps = cfg.epsilon ?? 1e-3;
  const g = Float64Array.from(gamma, (v, i) => v / Math.sqrt(variance[i]! + eps));
  const outK = new Float32Array(kernel.length);
  // conv/dense: channel is the last axis; depthwise [KH, KW, C, 1]: channel = index % C as well
  for (let i = 0; i < kernel.length; i++) outK[i] = kernel[i]! * g[i % c]!;
  if (cls === 'DepthwiseConv2D' && kernel.length % c !== 0) throw new ConfigError({ layer: bn.name }, 'channels', `a divisor of the kernel size ${kernel.length}`, c);
  const outB = Float32Array.from({ length: c }, (_, i) => ((bias?.[i] ?? 0) - mean[i]!) * g[i]! + beta[i]!);
  return { kernel: outK, bias: outB };
}

/**
 * Calibrates and lowers in one call.
 * `calibration`: float input batches (e.g. [B, 28, 28, 1] in [0, 1]); they are read, not disposed.
 */
export function quantizeModel(model: tfl.LayersModel, calibration: Calibration, options: QuantizeOptions = {}): Int8Graph {
  let batches: () => Iterable<tf.Tensor>;
  if (typeof calibration === 'function') batches = calibration;
  else if ((calibration[Symbol.iterator]() as unknown) === calibration) {
    const list = [...calibration]; // a one-shot iterator: keep the batches for the two passes
    batches = () => list;
  } else batches = () => calibration;
  checkLowerable(model);
  const equalize = options.equalize ?? true;
  tf.engine().startScope();
  const eq = equalize ? equalizeOutlierChannels(model, batches(), equalize === true ? {} : equalize) : null;
  try {
    const graph = lowerModel(model, calibrateModel(model, batches(), options), options);
    if (eq && eq.pairs.length > 0) graph.meta['equalized'] = eq.pairs as unknown as Record<string, unknown>[];
    return graph;
  } finally {
    eq?.restore();
    tf.engine().endScope();
  }
}

/** Float input values -> int8 codes with the graph input's quantization. */
export function quantizeInput(graph: Int8Graph, values: ArrayLike<number>): Int8Array {
  const t = graph.tensors[graph.input]!;
  const out = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const q = roundHalfAway(values[i]! / t.scale) + t.zeroPoint;
    out[i] = q < -128 ? -128 : q > 127 ? 127 : q;
  }
  return out;
}

// ---------------------------------------------------------------- the built-in lowerings (the same API a user has)

/** A Softmax layer, or Activation('softmax'): the int8 softmax over the last axis. */
function lowerSoftmaxLayer({ layer, node, name, outName, outShape, b, io, newOut }: LoweringContext): void {
  const cfgAxis = (layer.getConfig() as { axis?: number | number[] }).axis;
  const axis = Array.isArray(cfgAxis) && cfgAxis.length === 1 ? cfgAxis[0] : cfgAxis;
  const last = node.inputShapes[0]!.length - 1; // batch axis included, as tfjs counts
  if (axis !== undefined && axis !== -1 && axis !== last) {
    throw new ConfigError({ layer: name }, 'axis', `-1 or ${last} (softmax over the last axis)`, cfgAxis);
  }
  const { i, inInfo } = io();
  const o = newOut(outName, outShape, SOFTMAX_OUTPUT);
  b.push(lowerSoftmax({ name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o) }) as unknown as Int8Node);
}

registerLowering({
  classes: ['Conv2D', 'Conv1D', 'DepthwiseConv2D', 'Dense'],
  check(layer) {
    const cls = className(layer);
    if (cls === 'Dense' && activationName(layer) === 'softmax') return;
    if (cls !== 'Conv1D' && tableActivation(layer)) return;
    fusedActivation(layer);
  },
  calibrate({ layer, x, observe }) {
    if (className(layer) === 'Dense' && activationName(layer) === 'softmax') {
      // the int8 graph keeps the logits before the softmax: their range, not the probabilities'
      const [kernel, bias] = weights(layer) as [Float32Array, Float32Array | undefined];
      const units = (layer.getConfig() as { units: number }).units;
      observe(`${layer.name}/logits`, denseFloat(x.dataSync() as Float32Array, kernel.length / units, kernel, bias ?? new Float32Array(units)));
    } else if (className(layer) !== 'Conv1D' && tableActivation(layer)) {
      const y = preActivation(layer, x);
      observe(`${layer.name}/preact`, y.dataSync() as Float32Array);
      y.dispose();
    }
  },
  lower(ctx) {
    const { layer, node, graph, b, name, cls, outName, outShape, newOut, io, only, skip } = ctx;
    if (cls === 'Dense' && inputIsDelta(node, graph)) {
      return; // lowered with its Delta layer (below)
    }
    if (cls === 'Dense' && activationName(layer) === 'softmax') {
      // logits (linear dense into the calibrated pre-softmax range) -> the int8 softmax
      const [kernel, bias] = weights(layer) as [Float32Array, Float32Array | undefined];
      const { i, inInfo } = io();
      if (inInfo.shape.length !== 1) throw new ConfigError({ layer: name }, 'input', "a flat [C] input for a Dense with softmax (put a Flatten before it, or the softmax in a separate layer)", `shape [${inInfo.shape.join(', ')}]`);
      const logits = b.add(`${name}/logits`, outShape, b.params(`${name}/logits`, name));
      b.push(lowerDense({ name, inputs: [i], outputs: [logits], in: inInfo, out: b.info(logits), kernel, ...(bias ? { bias } : {}), activation: 'linear' }) as unknown as Int8Node);
      const o = newOut(outName, outShape, SOFTMAX_OUTPUT);
      b.push(lowerSoftmax({ name: `${name}_softmax`, inputs: [logits], outputs: [o], in: b.info(logits), out: b.info(o) }) as unknown as Int8Node);
      return;
    }
    let [kernel, bias] = weights(layer) as [Float32Array, Float32Array | undefined];
    let finalOut = outName;
    const next = only(outName);
    // BN folds into the kernel only when nothing sits between them: with a fused activation
    // the model computes BN(act(conv)), and folding would give act(BN(conv)) (a wrong model
    // that every bit-exact check passes); then BN is lowered on its own, as a per-channel affine
    const bn = next && className(next.layer) === 'BatchNormalization' && activationName(layer) === 'linear' ? next : null;
    if (bn) {
      ({ kernel, bias } = foldBatchNorm(bn.layer, kernel, bias, cls));
      finalOut = bn.outputs[0]!;
      skip.add(bn.layer);
    }
    // a ReLU / ReLU6 layer right after (the conv or its folded BN) becomes the kernel's clamp:
    // the output grid then covers [0, max] exactly instead of a table reading a wider grid
    const table = cls === 'Conv1D' ? null : tableActivation(layer);
    let activation = table ? 'linear' : fusedActivation(layer);
    const act = activation === 'linear' && !table ? only(finalOut) : null;
    const actKind = act ? fusableRelu(act.layer) : null;
    if (act && actKind) {
      activation = actKind;
      finalOut = act.outputs[0]!;
      skip.add(act.layer);
    }
    const { i, inInfo } = io();
    const finalShape = featureShape(bn && finalOut !== outName ? bn.outputShapes[0]! : node.outputShapes[0]!);
    const cfg = layer.getConfig() as { kernelSize?: number | number[]; strides?: number | number[]; padding?: 'same' | 'valid' | 'causal'; dilationRate?: number | number[]; depthMultiplier?: number };
    if (cls === 'Conv1D' || (cls === 'Dense' && inInfo.shape.length === 2)) {
      // a sequence [L, C] (Conv1D, or a Dense on a rank-3 input): the same bytes as a [1, L, C]
      // map, so a conv2d with a [1, k] kernel between two free reshapes
      const one = (v: number | number[] | undefined) => (Array.isArray(v) ? v[0]! : v ?? 1);
      if (cls === 'Conv1D' && one(cfg.dilationRate) !== 1) throw new ConfigError({ layer: name }, 'dilationRate', '1 (dilated convolutions are not supported in int8)', cfg.dilationRate);
      if (cfg.padding === 'causal') throw new ConfigError({ layer: name }, 'padding', "'same' or 'valid' (causal padding is not lowered yet)", cfg.padding);
      const in2 = b.add(`${name}/in2d`, [1, ...inInfo.shape], inInfo);
      b.push(lowerReshape({ name: `${name}_to2d`, inputs: [i], outputs: [in2], in: inInfo, out: b.info(in2) }) as unknown as Int8Node);
      const o2 = b.add(`${name}/out2d`, [1, ...finalShape], b.params(finalOut, name));
      const k = cls === 'Dense' ? 1 : one(cfg.kernelSize);
      const st = cls === 'Dense' ? 1 : one(cfg.strides);
      b.push(lowerConv2d({ name, inputs: [in2], outputs: [o2], in: b.info(in2), out: b.info(o2), kernel, ...(bias ? { bias } : {}), activation, kernelSize: [1, k], strides: [1, st], padding: cls === 'Dense' ? 'valid' : (cfg.padding ?? 'valid') as 'same' | 'valid' }) as unknown as Int8Node);
      const o1 = newOut(finalOut, finalShape, b.info(o2));
      b.push(lowerReshape({ name: `${name}_to1d`, inputs: [o2], outputs: [o1], in: b.info(o2), out: b.info(o1) }) as unknown as Int8Node);
      return;
    }
    if (table && inInfo.shape.length === 2) throw new ConfigError({ layer: name }, 'activation', 'a clamp (linear, relu, relu6) for a Dense on a sequence', activationName(layer));
    // with a table activation the kernel writes the calibrated pre-activation; the table follows
    const o = table ? b.add(`${name}/preact`, finalShape, b.params(`${name}/preact`, name)) : newOut(finalOut, finalShape);
    const base = { name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o), kernel, ...(bias ? { bias } : {}), activation };
    if (cls !== 'Dense') {
      const dil = pair(cfg.dilationRate, 1);
      if (dil[0] !== 1 || dil[1] !== 1) throw new ConfigError({ layer: name }, 'dilationRate', '1 (dilated convolutions are not supported in int8)', cfg.dilationRate);
      const conv = { ...base, kernelSize: pair(cfg.kernelSize, 1), strides: pair(cfg.strides, 1), padding: (cfg.padding ?? 'valid') as 'same' | 'valid' };
      b.push((cls === 'Conv2D' ? lowerConv2d(conv) : lowerDepthwiseConv2d(conv)) as unknown as Int8Node);
    } else {
      b.push(lowerDense(base) as unknown as Int8Node);
    }
    if (table) {
      const y = newOut(finalOut, finalShape);
      b.push(lowerLut({ name: `${name}_${activationName(layer)}`, inputs: [o], outputs: [y], in: b.info(o), out: b.info(y), fn: table, fnName: activationName(layer) }) as unknown as Int8Node);
    }
  },
});

registerLowering({
  classes: ['SeparableConv2D'],
  check: (layer) => void fusedActivation(layer),
  calibrate({ layer, x, observe }) {
    // the depthwise half's output is an int8 tensor too: observe it
    const cfg = layer.getConfig() as { strides?: number | number[]; padding?: 'same' | 'valid' };
    const [dk] = layer.getWeights();
    const y = tf.tidy(() => tf.depthwiseConv2d(x as tf.Tensor4D, dk as tf.Tensor4D, pair(cfg.strides, 1), cfg.padding ?? 'valid'));
    observe(`${layer.name}/depthwise`, y.dataSync() as Float32Array);
    y.dispose();
  },
  lower(ctx) {
    const { layer, b, name, outName, outShape, newOut, io } = ctx;
    // depthwise (linear, no bias) into its own calibrated tensor, then a 1x1 conv with the bias and activation
    const [dk, pk, bias] = weights(layer) as [Float32Array, Float32Array, Float32Array | undefined];
    const cfg = layer.getConfig() as { kernelSize?: number | number[]; strides?: number | number[]; padding?: 'same' | 'valid'; dilationRate?: number | number[]; depthMultiplier?: number };
    const dil = pair(cfg.dilationRate, 1);
    if (dil[0] !== 1 || dil[1] !== 1) throw new ConfigError({ layer: name }, 'dilationRate', '1 (dilated convolutions are not supported in int8)', cfg.dilationRate);
    if ((cfg.depthMultiplier ?? 1) !== 1) throw new ConfigError({ layer: name }, 'depthMultiplier', '1 (int8 depthwise supports depth multiplier 1 only)', cfg.depthMultiplier);
    const { i, inInfo } = io();
    const midShape = [outShape[0]!, outShape[1]!, inInfo.shape[2]!];
    const mid = b.add(`${name}/depthwise`, midShape, b.params(`${name}/depthwise`, name));
    b.push(lowerDepthwiseConv2d({ name: `${name}_depthwise`, inputs: [i], outputs: [mid], in: inInfo, out: b.info(mid), kernel: dk, activation: 'linear', kernelSize: pair(cfg.kernelSize, 1), strides: pair(cfg.strides, 1), padding: cfg.padding ?? 'valid' }) as unknown as Int8Node);
    const o = newOut(outName, outShape);
    b.push(lowerConv2d({ name, inputs: [mid], outputs: [o], in: b.info(mid), out: b.info(o), kernel: pk, ...(bias ? { bias } : {}), activation: fusedActivation(layer), kernelSize: [1, 1], strides: [1, 1], padding: 'valid' }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['Delta'],
  lower(ctx) {
    const { layer, b, name, outName, newOut, io, only, skip } = ctx;
    const next = only(outName);
    if (!next || className(next.layer) !== 'Dense') {
      throw new ConfigError({ layer: name }, 'next layer', 'a Dense layer reading only this Delta layer (int8 runs them as one delta_dense op)', next ? className(next.layer) : 'several or none');
    }
    const dense = next.layer;
    const [kernel, bias] = weights(dense) as [Float32Array, Float32Array | undefined];
    if (fusedActivation(dense) !== 'linear') throw new ConfigError({ layer: dense.name }, 'activation', "'linear' after a Delta layer", activationName(dense));
    const { i, inInfo } = io();
    const o = newOut(next.outputs[0]!, featureShape(next.outputShapes[0]!));
    const thresholds = (layer.params as () => number[])();
    const relu = Boolean((layer as unknown as { relu: boolean }).relu);
    b.push(lowerDeltaDense({ name: `${name}_${dense.name}`, inputs: [i], outputs: [o], in: inInfo, out: b.info(o), thresholds, relu, kernel, ...(bias ? { bias } : {}) }) as unknown as Int8Node);
    skip.add(dense);
  },
});

registerLowering({
  classes: ['BatchNormalization'],
  lower(ctx) {
    const { layer, graph, b, name, inName, outName, outShape, newOut, io } = ctx;
    // not foldable (after an activation, an add, a pool...): y = g_c x + b_c per channel, a 1x1 depthwise conv
    const { i, inInfo } = io();
    if (inInfo.shape.length !== 3) {
      throw new ConfigError({ layer: name }, 'input', 'a [H, W, C] feature map, or the output of a Conv2D, DepthwiseConv2D or Dense layer with a linear activation read only by this layer (folded)', `shape [${inInfo.shape.join(', ')}] from ${className(graph.nodes.find((n) => n.outputs.includes(inName))?.layer ?? layer)}`, "give the layer before it activation: 'linear' and put the activation after the BatchNormalization");
    }
    const c = inInfo.shape[2]!;
    const { kernel, bias } = foldBatchNorm(layer, new Float32Array(c).fill(1), undefined, 'DepthwiseConv2D');
    const o = newOut(outName, outShape);
    b.push(lowerDepthwiseConv2d({ name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o), kernel, bias, activation: 'linear', kernelSize: [1, 1], strides: [1, 1], padding: 'valid' }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['AveragePooling2D', 'MaxPooling2D'],
  lower(ctx) {
    const { layer, b, name, cls, outName, outShape, newOut, io } = ctx;
    const cfg = layer.getConfig() as { poolSize?: number | number[]; strides?: number | number[] | null; padding?: 'same' | 'valid' };
    const pool = pair(cfg.poolSize, 2);
    const strides = pair(cfg.strides ?? pool, 1);
    const { i, inInfo } = io();
    const o = newOut(outName, outShape, inInfo);
    const lowerPool = cls === 'MaxPooling2D' ? lowerMaxPool2d : lowerAvgPool2d;
    b.push(lowerPool({ name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o), poolSize: pool, strides, padding: cfg.padding ?? 'valid' }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['Flatten', 'Reshape'],
  lower(ctx) {
    const { b, name, outName, outShape, newOut, io } = ctx;
    const { i, inInfo } = io();
    const o = newOut(outName, outShape, inInfo);
    b.push(lowerReshape({ name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o) }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['Add'],
  calibrate({ layer, node, x, values, observe }) {
    // an N-input Add runs as a chain of two-input adds: observe the partial sums
    let acc = x;
    for (let k = 1; k < node.inputs.length - 1; k++) {
      const next = tf.add(acc, values.get(node.inputs[k]!)!);
      if (acc !== x) acc.dispose();
      acc = next;
      observe(`${layer.name}/sum${k}`, acc.dataSync() as Float32Array);
    }
    if (acc !== x) acc.dispose();
  },
  lower(ctx) {
    const { node, b, name, outName, outShape, newOut } = ctx;
    // N inputs: a chain of two-input adds through the calibrated partial sums
    const ids = node.inputs.map((n) => b.id(n, name));
    let acc = ids[0]!;
    for (let k = 1; k < ids.length; k++) {
      const last = k === ids.length - 1;
      const o = last ? newOut(outName, outShape) : b.add(`${name}/sum${k}`, outShape, b.params(`${name}/sum${k}`, name));
      b.push(lowerAdd({ name: last ? name : `${name}_sum${k}`, inputs: [acc, ids[k]!], outputs: [o], in: [b.info(acc), b.info(ids[k]!)], out: b.info(o) }) as unknown as Int8Node);
      acc = o;
    }
  },
});

registerLowering({
  classes: ['Concatenate'],
  lower(ctx) {
    const { layer, node, b, name, outName, outShape, newOut } = ctx;
    const axis = (layer.getConfig() as { axis?: number }).axis ?? -1;
    const last = node.inputShapes[0]!.length - 1; // batch axis included, as tfjs counts
    if (axis !== -1 && axis !== last) throw new ConfigError({ layer: name }, 'axis', `-1 or ${last} (concatenation on the channel axis)`, axis);
    const ids = node.inputs.map((n) => b.id(n, name));
    const o = newOut(outName, outShape);
    b.push(lowerConcat({ name, inputs: ids, outputs: [o], in: ids.map((t) => b.info(t)), out: b.info(o) }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['Softmax'],
  lower(ctx) {
    lowerSoftmaxLayer(ctx);
  },
});

registerLowering({
  classes: ['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'CRReLU', 'PolyReLU'],
  check(layer) {
    const a = activationName(layer);
    if (className(layer) === 'Activation' && a !== 'softmax' && !Object.hasOwn(ACTIVATIONS, a)) {
      throw new ConfigError({ layer: layer.name }, 'activation', `one of ${Object.keys(ACTIVATIONS).join(', ')}, softmax (a 256-entry table)`, a);
    }
  },
  lower(ctx) {
    const { layer, b, name, cls, outName, outShape, newOut, io } = ctx;
    if (cls === 'Activation' && activationName(layer) === 'softmax') {
      lowerSoftmaxLayer(ctx);
      return;
    }
    let fn: ((x: number) => number) | undefined;
    let fnName = cls.toLowerCase();
    const parametric = parametricActivation(layer);
    if (parametric) ({ fn, fnName } = parametric);
    else if (isElementwiseLayer(layer)) fn = layer.elementwiseFn();
    else if (cls === 'ReLU') {
      const maxValue = (layer.getConfig() as { maxValue?: number | null }).maxValue;
      fn = maxValue == null ? ACTIVATIONS['relu'] : (x: number) => Math.min(Math.max(x, 0), maxValue);
      if (maxValue != null) fnName = `relu(max ${maxValue})`;
    }
    else {
      fnName = activationName(layer);
      fn = Object.hasOwn(ACTIVATIONS, fnName) ? ACTIVATIONS[fnName] : undefined;
      if (!fn) throw new ConfigError({ layer: name }, 'activation', `one of ${Object.keys(ACTIVATIONS).join(', ')}`, fnName);
    }
    const { i, inInfo } = io();
    const o = newOut(outName, outShape);
    b.push(lowerLut({ name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o), fn: fn!, fnName }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['EvoNormB0', 'EvoNormS0'],
  lower(ctx) {
    const { layer, b, name, cls, outName, outShape, newOut, io } = ctx;
    const { i, inInfo } = io();
    const o = newOut(outName, outShape);
    const p = (layer.params as () => Record<string, unknown>)();
    const args = { name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o), ...p };
    b.push((cls === 'EvoNormB0' ? lowerEvoNormB0(args as never) : lowerEvoNormS0(args as never)) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['PolyNorm'],
  lower(ctx) {
    const { layer, b, name, outName, outShape, newOut, io } = ctx;
    const { i, inInfo } = io();
    const o = newOut(outName, outShape);
    const p = (layer.params as () => { w: number[]; b: number })();
    const eps = (layer as unknown as { eps: number }).eps;
    b.push(lowerPolyNorm({ name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o), w: p.w, b: p.b, eps }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['EarlyExitHead'],
  calibrate({ layer, x, observe }) {
    const p = (layer.params as () => HeadParams)();
    if (x.rank > 2) observe(`${layer.name}/pooled`, mixPoolFloat(x.dataSync() as Float32Array, x.shape, p.mix, p.grid ?? 1, p.pooling === 'concat'));
  },
  lower(ctx) {
    const { layer, b, name, outName, outShape, newOut, early, io, thresholdOf } = ctx;
    const p = (layer.params as () => HeadParams)();
    const { i, inInfo } = io();
    let pooled = i;
    if (inInfo.shape.length > 1) {
      const grid = p.grid ?? 1;
      const concat = p.pooling === 'concat';
      pooled = newOut(`${name}/pooled`, [grid * grid * (concat ? 2 : 1) * p.channels]);
      early(lowerMixPool({ name: `${name}_pool`, inputs: [i], outputs: [pooled], in: inInfo, out: b.info(pooled), mix: p.mix, grid, concat }) as unknown as Int8Node);
    }
    const logits = newOut(outName, outShape);
    early(lowerDense({ name: `${name}_fc`, inputs: [pooled], outputs: [logits], in: b.info(pooled), out: b.info(logits), kernel: p.kernel, bias: p.bias, activation: 'linear' }) as unknown as Int8Node);
    early(lowerExitDecision({ name: `${name}_decide`, inputs: [logits], outputs: [], in: b.info(logits), out: b.info(logits), threshold: thresholdOf(name) }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['ConceptBottleneck'],
  calibrate({ layer, x, observe }) {
    const p = (layer.params as () => { inputDim: number; conceptKernel: Float32Array; conceptBias: Float32Array })();
    observe(`${layer.name}/z`, denseFloat(x.dataSync() as Float32Array, p.inputDim, p.conceptKernel, p.conceptBias));
  },
  lower(ctx) {
    const { layer, node, b, name, newOut, io } = ctx;
    const p = (layer.params as () => {
      inputDim: number; numConcepts: number; numClasses: number; bottleneck: 'probability' | 'logit';
      interventionLogits?: Array<[number, number]>; conceptKernel: Float32Array; conceptBias: Float32Array; headKernel: Float32Array; headBias: Float32Array;
    })();
    const { i, inInfo } = io();
    const k = p.numConcepts;
    const z = newOut(`${name}/z`, [k]);
    b.push(lowerDense({ name: `${name}_concepts`, inputs: [i], outputs: [z], in: inInfo, out: b.info(z), kernel: p.conceptKernel, bias: p.conceptBias, activation: 'linear' }) as unknown as Int8Node);
    const zInfo = b.info(z);
    const [conceptsName, logitsName] = [node.outputs[1]!, node.outputs[0]!];
    const zi = b.add(`${name}/z_intervened`, [k], zInfo);
    const low = p.bottleneck === 'logit' && p.interventionLogits ? p.interventionLogits.map((v) => v[0]) : new Array<number>(k).fill(-6);
    const high = p.bottleneck === 'logit' && p.interventionLogits ? p.interventionLogits.map((v) => v[1]) : new Array<number>(k).fill(6);
    b.push(lowerConceptIntervene({ name: `${name}_intervene`, inputs: [z], outputs: [zi], in: zInfo, out: b.info(zi), lowLogits: low, highLogits: high }) as unknown as Int8Node);
    const concepts = newOut(conceptsName, [k]);
    b.push(lowerLut({ name: `${name}_sigmoid`, inputs: [zi], outputs: [concepts], in: b.info(zi), out: b.info(concepts), fn: sigmoid, fnName: 'sigmoid' }) as unknown as Int8Node);
    const headIn = p.bottleneck === 'logit' ? zi : concepts;
    const logits = newOut(logitsName, [p.numClasses]);
    b.push(lowerDense({ name: `${name}_head`, inputs: [headIn], outputs: [logits], in: b.info(headIn), out: b.info(logits), kernel: p.headKernel, bias: p.headBias, activation: 'linear' }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout'],
  lower(ctx) {
    const { b, outName, io } = ctx;
    b.alias(outName, io().i); // identity at inference
  },
});

registerLowering({
  classes: ['ZeroPadding2D'],
  lower(ctx) {
    const { layer, b, name, outName, outShape, newOut, io } = ctx;
    const cfg = layer.getConfig() as { padding?: number | number[] | number[][]; dataFormat?: string };
    if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast') throw new ConfigError({ layer: name }, 'dataFormat', "'channelsLast'", cfg.dataFormat);
    const p = cfg.padding ?? 1;
    const pads: [number, number, number, number] = typeof p === 'number' ? [p, p, p, p]
      : Array.isArray(p[0]) ? [(p as number[][])[0]![0]!, (p as number[][])[0]![1]!, (p as number[][])[1]![0]!, (p as number[][])[1]![1]!]
      : [(p as number[])[0]!, (p as number[])[0]!, (p as number[])[1]!, (p as number[])[1]!];
    const { i, inInfo } = io();
    const o = newOut(outName, outShape, inInfo);
    b.push(lowerPad2d({ name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o), pads }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['UpSampling2D'],
  lower(ctx) {
    const { layer, b, name, outName, outShape, newOut, io } = ctx;
    const cfg = layer.getConfig() as { size?: number[]; interpolation?: string; dataFormat?: string };
    if ((cfg.interpolation ?? 'nearest') !== 'nearest') throw new ConfigError({ layer: name }, 'interpolation', "'nearest' (int8 upsampling)", cfg.interpolation);
    if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast') throw new ConfigError({ layer: name }, 'dataFormat', "'channelsLast'", cfg.dataFormat);
    const { i, inInfo } = io();
    const o = newOut(outName, outShape, inInfo);
    b.push(lowerUpsample2d({ name, inputs: [i], outputs: [o], in: inInfo, out: b.info(o), size: [cfg.size?.[0] ?? 2, cfg.size?.[1] ?? 2] }) as unknown as Int8Node);
  },
});

registerLowering({
  classes: ['GlobalAveragePooling2D', 'GlobalMaxPooling2D'],
  lower(ctx) {
    const { layer, b, name, cls, outName, outShape, newOut, io } = ctx;
    const cfg = layer.getConfig() as { dataFormat?: string; keepDims?: boolean };
    if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast') throw new ConfigError({ layer: name }, 'dataFormat', "'channelsLast'", cfg.dataFormat);
    const { i, inInfo } = io();
    const [H, W, C] = inInfo.shape as [number, number, number];
    // one average (max) over the whole map, output grid = the input's, then [1, 1, C] -> [C]
    const pooled = b.add(`${outName}/pooled`, [1, 1, C], inInfo);
    const lowerPool = cls === 'GlobalMaxPooling2D' ? lowerMaxPool2d : lowerAvgPool2d;
    b.push(lowerPool({ name: `${name}_pool`, inputs: [i], outputs: [pooled], in: inInfo, out: b.info(pooled), poolSize: [H, W], strides: [H, W], padding: 'valid' }) as unknown as Int8Node);
    const o = newOut(outName, outShape, inInfo);
    b.push(lowerReshape({ name, inputs: [pooled], outputs: [o], in: b.info(pooled), out: b.info(o) }) as unknown as Int8Node);
  },
});
