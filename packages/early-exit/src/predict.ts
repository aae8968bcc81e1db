/**
 * Early-exit inference that really stops computing. The model graph (core's modelGraph) is cut
 * into stages: stage i holds the not-yet-run ancestors of exit head i, and the head itself. Stage i
 * runs on the samples still active; those that satisfy the exit rule leave the batch (their rows
 * are dropped from every tensor later stages need), the rest continue. MACs per sample = the
 * countNode MACs of every node run while it was active (trunk so far + every head evaluated).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ConfigError, ShapeError, countModel, countNode, modelGraph, runGraph, type GraphNode, type ModelGraph } from '@tinyblocks/core';
import { type Labels, labelIndices } from './losses.js';
import { type ExitRule, type ExitRuleName, exitRule } from './rules.js';

export interface EarlyExitOptions {
  rule: ExitRuleName;
  /** One threshold for every exit head, or one per exit head (the final classifier takes the rest). */
  threshold: number | number[];
  /** Layers producing exit logits, in order, the last being the final classifier. Default: every
   *  EarlyExitHead in graph order, then the layer producing the model's (first non-head) output. */
  heads?: string[];
}

export interface SamplePrediction {
  prediction: number;
  /** Index into `heads` of the exit that answered. */
  exitIndex: number;
  /** Softmax probabilities at that exit. */
  probabilities: Float32Array;
  /** MACs actually spent on this sample. */
  macs: number;
}

export interface ExitCosts {
  heads: string[];
  /** MACs of a sample that exits at head i: every node run up to and including head i. */
  exitMacs: number[];
  /** = exitMacs[last]: early exit does not lower the worst case (it adds the heads). */
  worstCaseMacs: number;
  /** The final classifier's ancestors only: the model without its early exits. */
  baselineMacs: number;
  /** countModel(model).totalMacs: every layer of the model. */
  fullModelMacs: number;
}

export interface EarlyExitResult extends ExitCosts {
  samples: SamplePrediction[];
  /** Number of samples answered by each head. */
  exitHistogram: number[];
  averageMacs: number;
}

interface Plan extends ExitCosts {
  graph: ModelGraph;
  headNodes: GraphNode[];
  /** Nodes to run before reading head i (graph order), the head's node last. */
  stages: GraphNode[][];
  /** Whether head i already outputs probabilities (softmax activation). */
  outputsProbabilities: boolean[];
}

function makePlan(model: LayersModel, headNames?: string[]): Plan {
  const where = { op: 'earlyExitPredict' };
  const graph = modelGraph(model);
  const byLayer = new Map(graph.nodes.map((n) => [n.layer.name, n]));
  const producer = new Map<string, GraphNode>();
  for (const n of graph.nodes) for (const o of n.outputs) producer.set(o, n);

  const order = new Map(graph.nodes.map((n, i) => [n, i]));
  const done = new Set<GraphNode>();
  const ancestors = (node: GraphNode, acc: Set<GraphNode>): Set<GraphNode> => {
    if (acc.has(node) || done.has(node)) return acc;
    acc.add(node);
    for (const input of node.inputs) {
      const p = producer.get(input);
      if (p) ancestors(p, acc);
    }
    return acc;
  };
  let heads = headNames;
  if (heads === undefined) {
    // every EarlyExitHead, shallowest first (fewest ancestors), then the final classifier
    const isHead = (n: GraphNode) => n.layer.getClassName() === 'EarlyExitHead';
    const outs = graph.outputs.map((o) => producer.get(o)!).filter(Boolean);
    const final = outs.find((n) => !isHead(n)) ?? outs[outs.length - 1]!;
    const depth = (n: GraphNode) => ancestors(n, new Set()).size;
    const exits = graph.nodes.filter((n) => isHead(n) && n !== final).sort((a, b) => depth(a) - depth(b));
    heads = [...exits.map((n) => n.layer.name), final.layer.name];
  }
  if (!Array.isArray(heads) || heads.length === 0 || new Set(heads).size !== heads.length) {
    throw new ConfigError(where, 'heads', 'a non-empty array of distinct layer names', heads);
  }
  const headNodes = heads.map((name) => {
    const node = byLayer.get(name);
    if (!node) throw new ConfigError(where, 'heads', 'names of layers in the model', name);
    return node;
  });

  const macs = new Map(graph.nodes.map((n) => [n, countNode(n).macs]));
  const stages: GraphNode[][] = [];
  const exitMacs: number[] = [];
  let spent = 0;
  for (const head of headNodes) {
    const stage = [...ancestors(head, new Set())].sort((a, b) => order.get(a)! - order.get(b)!);
    stage.forEach((n) => done.add(n));
    spent += stage.reduce((s, n) => s + macs.get(n)!, 0);
    stages.push(stage);
    exitMacs.push(spent);
  }
  done.clear();
  const baseline = [...ancestors(headNodes[headNodes.length - 1]!, new Set())];
  return {
    graph,
    heads: [...heads],
    headNodes,
    stages,
    exitMacs,
    worstCaseMacs: spent,
    baselineMacs: baseline.reduce((s, n) => s + macs.get(n)!, 0),
    fullModelMacs: countModel(model).totalMacs,
    outputsProbabilities: headNodes.map((n) => (n.layer.getConfig() as { activation?: string }).activation === 'softmax'),
  };
}

/** Softmax rows of head i's output, as a flat Float32Array [n, K] and K. */
function probabilities(plan: Plan, i: number, out: tf.Tensor): { p: Float32Array; k: number } {
  if (out.rank !== 2) {
    throw new ShapeError({ layer: plan.heads[i]! }, 'output', 'exit logits [batch, classes]', out.shape);
  }
  const p = plan.outputsProbabilities[i] ? out : tf.softmax(out);
  return { p: p.dataSync() as Float32Array, k: out.shape[1]! };
}

const argMax = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
  return best;
};

/** The exit rule of each of `exits` heads: one threshold for all, or one per head. */
function headRules(options: EarlyExitOptions, exits: number): ExitRule[] {
  const t = options?.threshold;
  const first = exitRule({ rule: options?.rule, threshold: Array.isArray(t) ? (t[0] ?? 0) : t });
  if (!Array.isArray(t)) return new Array<ExitRule>(exits).fill(first);
  if (t.length !== exits) throw new ConfigError({ op: 'earlyExitPredict' }, 'threshold', `a number or one per exit head (${exits})`, t);
  return t.map((threshold) => exitRule({ rule: options.rule, threshold }));
}

/** Runs the model exit by exit on x, dropping the samples that exit from the batch. */
export function earlyExitPredict(model: LayersModel, x: tf.Tensor | tf.Tensor[], options: EarlyExitOptions): EarlyExitResult {
  const plan = makePlan(model, options.heads);
  const rules = headRules(options, plan.heads.length - 1);
  const inputs = Array.isArray(x) ? x : [x];
  const batch = inputs[0]!.shape[0]!;
  const samples: SamplePrediction[] = new Array(batch);
  let active = Array.from({ length: batch }, (_, i) => i); // original indices of the rows in `values`
  let values = new Map<string, tf.Tensor>(plan.graph.inputs.map((name, i) => [name, inputs[i]!]));
  const owned = new Set<tf.Tensor>(); // tensors we created (the caller's inputs are not ours)
  const last = plan.headNodes.length - 1;

  for (let h = 0; h <= last && active.length > 0; h++) {
    const later = new Set(plan.stages.slice(h + 1).flatMap((s) => s.flatMap((n) => n.inputs)));
    const next = tf.tidy(() => {
      const cur = new Map(values);
      for (const node of plan.stages[h]!) {
        const args = node.inputs.map((n) => cur.get(n)!);
        const out = node.layer.apply(args.length === 1 ? args[0]! : args, { training: false }) as tf.Tensor | tf.Tensor[];
        (Array.isArray(out) ? out : [out]).forEach((t, j) => cur.set(node.outputs[j]!, t));
      }
      const { p, k } = probabilities(plan, h, cur.get(plan.headNodes[h]!.outputs[0]!)!);
      const stay: number[] = [];
      active.forEach((sample, row) => {
        const probs = p.slice(row * k, (row + 1) * k);
        if (h === last || rules[h]!(probs)) {
          samples[sample] = { prediction: argMax(probs), exitIndex: h, probabilities: probs, macs: plan.exitMacs[h]! };
        } else stay.push(row);
      });
      // keep only what later stages read, and only the rows of the samples that stay
      const names = stay.length ? [...cur.keys()].filter((name) => later.has(name)) : [];
      const rows = stay.length < active.length ? tf.tensor1d(stay, 'int32') : null;
      const tensors = names.map((name) => (rows ? tf.gather(cur.get(name)!, rows) : cur.get(name)!));
      return { names, tensors, stay };
    });
    const kept = new Set(next.tensors);
    for (const t of values.values()) if (owned.has(t) && !kept.has(t)) t.dispose();
    for (const t of kept) if (!inputs.includes(t)) owned.add(t);
    active = next.stay.map((row) => active[row]!);
    values = new Map(next.names.map((name, i) => [name, next.tensors[i]!]));
  }
  for (const t of values.values()) if (owned.has(t)) t.dispose();

  const exitHistogram = plan.exitMacs.map(() => 0);
  for (const s of samples) exitHistogram[s.exitIndex]!++;
  const { heads, exitMacs, worstCaseMacs, baselineMacs, fullModelMacs } = plan;
  return {
    samples,
    exitHistogram,
    averageMacs: samples.reduce((a, s) => a + s.macs, 0) / Math.max(batch, 1),
    heads,
    exitMacs,
    worstCaseMacs,
    baselineMacs,
    fullModelMacs,
  };
}

export interface SweepPoint {
  threshold: number;
  accuracy: number;
  averageMacs: number;
  exitHistogram: number[];
}

export interface SweepResult extends ExitCosts {
  rule: ExitRuleName;
  points: SweepPoint[];
  /** Accuracy of each head if every sample exited there. */
  headAccuracy: number[];
}

/** Every head's softmax rows for a set of samples, with their labels and the exit costs. */
export interface HeadProbabilities extends ExitCosts {
  /** Per head: softmax rows [n, classes] flat. */
  probabilities: Float32Array[];
  classes: number;
  labels: number[];
}

/** Runs the whole graph once on x and keeps every head's softmax rows (plain arrays). */
export function headProbabilities(model: LayersModel, x: tf.Tensor | tf.Tensor[], labels: Labels, options: { heads?: string[] } = {}): HeadProbabilities {
  const plan = makePlan(model, options.heads);
  const perHead = tf.tidy(() => {
    const values = runGraph(plan.graph, x);
    return plan.headNodes.map((n, i) => probabilities(plan, i, values.get(n.outputs[0]!)!));
  });
  return { probabilities: perHead.map((h) => h.p), classes: perHead[0]!.k, labels: Array.from(labelIndices(labels)), ...costs(plan) };
}

/** Joins the head probabilities of several chunks of samples (same model and heads). */
export function concatHeadProbabilities(parts: HeadProbabilities[]): HeadProbabilities {
  if (parts.length === 0) throw new ConfigError({ op: 'concatHeadProbabilities' }, 'parts', 'at least one chunk', 0);
  const first = parts[0]!;
  const probabilities = first.probabilities.map((_, h) => {
    const out = new Float32Array(parts.reduce((n, p) => n + p.probabilities[h]!.length, 0));
    let o = 0;
    for (const p of parts) [out.set(p.probabilities[h]!, o), (o += p.probabilities[h]!.length)];
    return out;
  });
  return { ...first, probabilities, labels: parts.flatMap((p) => p.labels) };
}

/** Replays the exit decisions: each sample leaves at the first head h with exits(h, probabilities). */
function replay(o: HeadProbabilities, exits: (h: number, row: Float32Array) => boolean): Omit<SweepPoint, 'threshold'> {
  const heads = o.probabilities.length;
  const k = o.classes;
  const last = heads - 1;
  const exitHistogram = new Array<number>(heads).fill(0);
  let correct = 0;
  let macs = 0;
  for (let s = 0; s < o.labels.length; s++) {
    let h = 0;
    while (h < last && !exits(h, o.probabilities[h]!.subarray(s * k, (s + 1) * k))) h++;
    exitHistogram[h]!++;
    macs += o.exitMacs[h]!;
    if (argMax(o.probabilities[h]!.subarray(s * k, (s + 1) * k)) === o.labels[s]) correct++;
  }
  return { accuracy: correct / o.labels.length, averageMacs: macs / o.labels.length, exitHistogram };
}

function costs(plan: Plan): ExitCosts {
  const { heads, exitMacs, worstCaseMacs, baselineMacs, fullModelMacs } = plan;
  return { heads, exitMacs, worstCaseMacs, baselineMacs, fullModelMacs };
}

/**
 * Accuracy vs average MACs for each threshold. Runs the whole graph once and replays the exit
 * decisions (same answers and MACs as earlyExitPredict, which a test checks).
 */
export function sweepThresholds(
  model: LayersModel,
  x: tf.Tensor | tf.Tensor[],
  labels: Labels,
  thresholds: number[],
  rule: ExitRuleName,
  options: { heads?: string[] } = {},
): SweepResult {
  exitRule({ rule, threshold: 0 }); // validates the rule name even for an empty sweep
  const rules: ExitRule[] = thresholds.map((threshold) => exitRule({ rule, threshold }));
  const o = headProbabilities(model, x, labels, options);
  const points = rules.map((decide) => ({ threshold: decide.threshold, ...replay(o, (_, row) => decide(row)) }));
  const headAccuracy = o.probabilities.map((_, h) => replay(o, (g) => g === h).accuracy);
  const { probabilities: _p, classes: _c, labels: _l, ...exitCosts } = o;
  return { rule, points, headAccuracy, ...exitCosts };
}

/** Accuracy, average MACs and exits per head with one max-softmax threshold per exit head. */
export function applyThresholds(o: HeadProbabilities, thresholds: number[]): Omit<SweepPoint, 'threshold'> {
  if (!Array.isArray(thresholds) || thresholds.length !== o.probabilities.length - 1 || thresholds.some((t) => typeof t !== 'number' || Number.isNaN(t))) {
    throw new ConfigError({ op: 'applyThresholds' }, 'thresholds', `one number per exit head (${o.probabilities.length - 1})`, thresholds);
  }
  return replay(o, (h, row) => Math.max(...row) >= thresholds[h]!);
}

/** The max-softmax thresholds tried per exit head by tuneThresholds (2, above any softmax: the head never answers). */
export const THRESHOLD_CANDIDATES = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 2];

export interface TunedThresholds extends ExitCosts {
  /** One max-softmax threshold per exit head (the final classifier takes the rest); above 1: never exits. */
  thresholds: number[];
  accuracy: number;
  averageMacs: number;
  exitHistogram: number[];
  /** Accuracy of the final classifier alone (every sample runs the whole model). */
  baselineAccuracy: number;
  /** The accuracy floor: baselineAccuracy - maxLoss. */
  floor: number;
}

/**
 * One threshold per exit head (rule: max softmax >= threshold), searched over every combination
 * of `candidates`: the combination with the fewest average MACs whose accuracy stays within
 * `maxLoss` of the final classifier's. Tune on held-out data (headProbabilities of its chunks,
 * joined), not on the test set.
 */
export function tuneThresholds(o: HeadProbabilities, options: { maxLoss: number; candidates?: number[] }): TunedThresholds {
  const where = { op: 'tuneThresholds' };
  if (typeof options.maxLoss !== 'number' || !(options.maxLoss >= 0 && options.maxLoss < 1)) {
    throw new ConfigError(where, 'maxLoss', 'an accuracy loss in [0, 1)', options.maxLoss);
  }
  const candidates = options.candidates ?? THRESHOLD_CANDIDATES;
  if (!Array.isArray(candidates) || candidates.length === 0 || candidates.some((c) => typeof c !== 'number' || !(c > 0))) {
    throw new ConfigError(where, 'candidates', 'a non-empty array of thresholds > 0', candidates);
  }
  const exits = o.probabilities.length - 1;
  const combos = candidates.length ** exits;
  if (combos > 1e5) throw new ConfigError(where, 'candidates', `at most 100,000 combinations (${exits} exit heads)`, combos);
  const never = replay(o, () => false);
  const floor = never.accuracy - options.maxLoss;
  let best = { thresholds: new Array<number>(exits).fill(2), ...never };
  const t = new Array<number>(exits).fill(0);
  for (let k = 0; k < combos; k++) {
    for (let h = 0, r = k; h < exits; h++, r = Math.floor(r / candidates.length)) t[h] = candidates[r % candidates.length]!;
    const point = applyThresholds(o, t);
    if (point.accuracy >= floor - 1e-12 && point.averageMacs < best.averageMacs) best = { thresholds: [...t], ...point };
  }
  const { probabilities: _p, classes: _c, labels: _l, ...exitCosts } = o;
  return { ...best, baselineAccuracy: never.accuracy, floor, ...exitCosts };
}
