import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import {
  AuxLossSlot,
  type AuxLossLayer,
  type BaseLayerArgs,
  type LayerShape,
  type MacCounter,
  ConfigError,
  firstShape,
  layerWhere,
  registerLayer,
  requireNonNegative,
  requireOneOf,
  requirePositiveInt,
  requireRank,
  ShapeError,
  shapeText,
  singleInput,
} from '@tinyblocks/core';
import {
  BOTTLENECKS,
  type Bottleneck,
  CBM_DEFAULT_LAMBDA,
  type Interventions,
  cbmForward,
  conceptHead,
  interventionArrays,
  jointLoss,
} from './cbm.js';

export interface ConceptBottleneckArgs extends BaseLayerArgs {
  /** k: number of concepts (sigmoid units). */
  numConcepts: number;
  /** Number of classes of the linear head. */
  numClasses: number;
  /** Sparse CBM: weight of the L1 penalty on the concept kernel (default 0, off). */
  conceptL1?: number;
  /** Weight of the concept loss in joint training (default 1.0; 0.01 is common). */
  lambda?: number;
  /** Seed of the glorot-uniform kernel initializers (default: unseeded). */
  seed?: number;
  /** Which parts train (see setTrainableParts); default both. */
  trainableParts?: TrainableParts;
  /** 'probability' (default): the head reads sigmoid concepts; 'logit': it reads concept logits. */
  bottleneck?: Bottleneck;
  /** Logit bottleneck: per concept [low, high] logits written by interventions of 0 / 1. */
  interventionLogits?: Array<[number, number]>;
}

export interface TrainableParts {
  concepts: boolean;
  head: boolean;
}

/** Current weights as flat row-major arrays, for the int8 lowering. */
export interface ConceptBottleneckParams {
  inputDim: number;
  numConcepts: number;
  numClasses: number;
  bottleneck: Bottleneck;
  /** Logit bottleneck: [low, high] logits interventions write (undefined: the defaults). */
  interventionLogits?: Array<[number, number]>;
  /** [inputDim, numConcepts] */
  conceptKernel: Float32Array;
  conceptBias: Float32Array;
  /** [numConcepts, numClasses] */
  headKernel: Float32Array;
  headBias: Float32Array;
}

/**
 * x [B, D] -> concepts c_hat = sigmoid(x Wc + bc) [B, k] -> logits = c_hat Wh + bh [B, numClasses]
 * (with bottleneck 'logit' the head reads z = x Wc + bc instead of c_hat).
 * Outputs `[logits, concepts]`. Weights: concept_kernel, concept_bias, head_kernel, head_bias.
 */
export class ConceptBottleneck extends tfl.layers.Layer implements MacCounter, AuxLossLayer {
  static className = 'ConceptBottleneck';
  readonly numConcepts: number;
  readonly numClasses: number;
  readonly conceptL1: number;
  readonly lambda: number;
  readonly seed: number | undefined;
  readonly bottleneck: Bottleneck;
  private interventionLogits: Array<[number, number]> | undefined;
  private parts: TrainableParts;
  private inputDim: number | null = null;
  private interventions: Interventions | null = null;
  private interventionMask: [Float32Array, Float32Array] | null = null;
  private readonly pending = new AuxLossSlot();
  private conceptKernel!: LayerVariable;
  private conceptBias!: LayerVariable;
  private headKernel!: LayerVariable;
  private headBias!: LayerVariable;

  constructor(args: ConceptBottleneckArgs) {
    super(args);
    const where = this.where(args.name);
    this.numConcepts = requirePositiveInt(where, 'numConcepts', args?.numConcepts);
    this.numClasses = requirePositiveInt(where, 'numClasses', args.numClasses);
    this.conceptL1 = requireNonNegative(where, 'conceptL1', args.conceptL1 ?? 0);
    this.lambda = requireNonNegative(where, 'lambda', args.lambda ?? CBM_DEFAULT_LAMBDA);
    if (args.seed !== undefined && !Number.isInteger(args.seed)) throw new ConfigError(where, 'seed', 'an integer', args.seed);
    this.seed = args.seed;
    this.parts = { concepts: args.trainableParts?.concepts ?? true, head: args.trainableParts?.head ?? true };
    this.bottleneck = requireOneOf(where, 'bottleneck', args.bottleneck ?? 'probability', BOTTLENECKS);
    if (args.interventionLogits !== undefined) this.setInterventionLogits(args.interventionLogits);
  }

  /** Logit bottleneck: [low, high] logits per concept that interventions of 0 / 1 write. */
  setInterventionLogits(logits: Array<[number, number]>): void {
    const ok = Array.isArray(logits) && logits.length === this.numConcepts &&
      logits.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite) && p[0] <= p[1]);
    if (!ok) throw new ConfigError(this.where(), 'interventionLogits', `${this.numConcepts} pairs [low, high] with low <= high`, logits);
    this.interventionLogits = logits.map(([lo, hi]) => [lo, hi]);
  }

  getInterventionLogits(): Array<[number, number]> | undefined {
    return this.interventionLogits?.map(([lo, hi]) => [lo, hi]);
  }

  /**
   * Sets the intervention logits to the 5th / 95th percentile of each concept's logits over
   * `features` (the layer's input on training data), as done for logit bottlenecks.
   */
  calibrateInterventionLogits(features: tf.Tensor2D, low = 0.05, high = 0.95): Array<[number, number]> {
    const z = tf.tidy(() => tf.add(tf.matMul(features, this.conceptKernel.read() as tf.Tensor2D), this.conceptBias.read()).arraySync() as number[][]);
    const pick = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
    const pairs = Array.from({ length: this.numConcepts }, (_, j) => {
      const col = z.map((r) => r[j]!).sort((a, b) => a - b);
      return [pick(col, low), pick(col, high)] as [number, number];
    });
    this.setInterventionLogits(pairs);
    return pairs;
  }

  private where(name = this.name) {
    return layerWhere('ConceptBottleneck', name);
  }

  private checkInput(shape: ReadonlyArray<number | null>): void {
    requireRank(this.where(), 'input', shape, [2]);
    const d = shape[1];
    if (this.inputDim !== null && d != null && d !== this.inputDim) {
      throw new ShapeError(this.where(), 'input', `${this.inputDim} features (the layer was built for [batch, ${this.inputDim}])`, `${d} (shape ${shapeText(shape)})`);
    }
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = firstShape(inputShape as LayerShape);
    this.checkInput(shape);
    const d = shape[1];
    if (d == null) throw new ShapeError(this.where(), 'input', 'a known feature count [batch, D]', `shape ${shapeText(shape)}`);
    this.inputDim = d;
    const glorot = (offset: number) =>
      tfl.initializers.glorotUniform(this.seed === undefined ? {} : { seed: this.seed + offset });
    const k = this.numConcepts;
    this.conceptKernel = this.addWeight('concept_kernel', [d, k], 'float32', glorot(0));
    this.conceptBias = this.addWeight('concept_bias', [k], 'float32', tfl.initializers.zeros());
    this.headKernel = this.addWeight('head_kernel', [k, this.numClasses], 'float32', glorot(1));
    this.headBias = this.addWeight('head_bias', [this.numClasses], 'float32', tfl.initializers.zeros());
    this.built = true;
    this.setTrainableParts(this.parts);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown> = {}): tf.Tensor[] {
    const x = singleInput(inputs, this.name);
    this.checkInput(x.shape);
    const { logits, concepts } = cbmForward(x, this.weightTensors(), this.bottleneck, this.interventionMask, this.interventionLogits);
    const out = [logits, concepts];
    if (kwargs['training'] === true && this.conceptL1 > 0) {
      this.pending.record(this.l1Loss());
    }
    return out;
  }

  /** Sparse CBM penalty conceptL1 * sum |Wc| (a scalar in the caller's scope). */
  l1Loss(): tf.Scalar {
    return tf.tidy(() => tf.mul(this.conceptL1, tf.sum(tf.abs(this.conceptKernel.read()))) as tf.Scalar);
  }

  /** The L1 penalty recorded by the last `training: true` call (null if none), then forgets it. */
  takeAuxLoss(): tf.Scalar | null {
    return this.pending.take();
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
    const shape = firstShape(inputShape as LayerShape);
    this.checkInput(shape);
    return [
      [shape[0]!, this.numClasses],
      [shape[0]!, this.numConcepts],
    ];
  }

  /**
   * Test-time intervention: the given concepts (index -> value in [0, 1]) replace the predicted
   * ones in every later call (the concepts output shows the replaced values) and the head is
   * recomputed from them. null clears. Not saved with the model.
   */
  setInterventions(map: Interventions | null): void {
    if (map === null) {
      this.interventions = null;
      this.interventionMask = null;
      return;
    }
    this.interventionMask = interventionArrays(this.where(), map, this.numConcepts);
    this.interventions = { ...map };
  }

  getInterventions(): Interventions | null {
    return this.interventions ? { ...this.interventions } : null;
  }

  /**
   * Freezes / unfreezes the concept part (concept_kernel, concept_bias) and the head (head_kernel,
   * head_bias): frozen weights leave trainableWeights and their variables stop being trainable,
   * so optimizers skip them. Sequential training: concepts first, then {concepts: false, head: true}.
   */
  setTrainableParts(parts: Partial<TrainableParts>): void {
    this.parts = { ...this.parts, ...parts };
    if (!this.built) return;
    const all = this.trainable;
    this.conceptKernel.trainable = all && this.parts.concepts;
    this.conceptBias.trainable = all && this.parts.concepts;
    this.headKernel.trainable = all && this.parts.head;
    this.headBias.trainable = all && this.parts.head;
  }

  /** `layer.trainable = false` freezes everything; `true` restores the parts' settings. */
  override get trainable(): boolean {
    return super.trainable;
  }

  override set trainable(value: boolean) {
    super.trainable = value;
    if (this.built) this.setTrainableParts({});
  }

  trainableParts(): TrainableParts {
    return { ...this.parts };
  }

  /** The head alone on given concept values [B, k] (independent training on true concepts). */
  headOnly(concepts: tf.Tensor): tf.Tensor {
    const shape = concepts.shape;
    requireRank(this.where(), 'concepts', shape, [2]);
    if (shape[1] !== this.numConcepts) {
      throw new ShapeError(this.where(), 'concepts', `${this.numConcepts} concepts in the last axis`, `${shape[1]} (shape ${shapeText(shape)})`);
    }
    return tf.tidy(() => conceptHead(concepts, this.headKernel.read(), this.headBias.read()));
  }

  /** jointLoss with this layer's lambda. */
  jointLoss(logits: tf.Tensor, yTrue: tf.Tensor, concepts: tf.Tensor, cTrue: tf.Tensor): tf.Scalar {
    return jointLoss(logits, yTrue, concepts, cTrue, this.lambda);
  }

  /** The weights as tensors (for conceptBottleneckOp); they belong to the layer. */
  weightTensors() {
    return {
      conceptKernel: this.conceptKernel.read(),
      conceptBias: this.conceptBias.read(),
      headKernel: this.headKernel.read(),
      headBias: this.headBias.read(),
    };
  }

  /** Current weights as arrays (for the int8 lowering). */
  params(): ConceptBottleneckParams {
    if (!this.built || this.inputDim === null) {
      throw new ConfigError(this.where(), 'params', 'a built layer (apply it to an input first)', 'not built');
    }
    const w = this.weightTensors();
    return {
      inputDim: this.inputDim,
      numConcepts: this.numConcepts,
      numClasses: this.numClasses,
      bottleneck: this.bottleneck,
      interventionLogits: this.getInterventionLogits(),
      conceptKernel: w.conceptKernel.dataSync() as Float32Array,
      conceptBias: w.conceptBias.dataSync() as Float32Array,
      headKernel: w.headKernel.dataSync() as Float32Array,
      headBias: w.headBias.dataSync() as Float32Array,
    };
  }

  /** D*k + k*numClasses multiply-accumulates per sample. */
  countMacs(inputShape: LayerShape | LayerShape[]): number {
    const d = firstShape(inputShape)[1] ?? this.inputDim ?? 0;
    return d * this.numConcepts + this.numConcepts * this.numClasses;
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      ...super.getConfig(),
      numConcepts: this.numConcepts,
      numClasses: this.numClasses,
      conceptL1: this.conceptL1,
      lambda: this.lambda,
      trainableParts: { ...this.parts },
      bottleneck: this.bottleneck,
    };
    if (this.interventionLogits) config['interventionLogits'] = this.getInterventionLogits() as unknown as tf.serialization.ConfigDictValue;
    if (this.seed !== undefined) config['seed'] = this.seed;
    return config;
  }

  override dispose(): ReturnType<tfl.layers.Layer['dispose']> {
    this.pending.dispose();
    return super.dispose();
  }
}
registerLayer(ConceptBottleneck);

/** Factory in the tf.layers style: `conceptBottleneck({numConcepts: 8, numClasses: 10})`. */
export function conceptBottleneck(args: ConceptBottleneckArgs): ConceptBottleneck {
  return new ConceptBottleneck(args);
}
