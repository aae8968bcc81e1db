/**
 * What the page knows, exposed as `window.__tinyblocks` so tests and the bench read the same
 * numbers the page shows. Plain data only (arrays, not tensors).
 */
import type { LayerCount } from '@tinyblocks/core';
import type { SweepPoint } from '@tinyblocks/early-exit';
import type { ExportReport } from '@tinyblocks/export-c';

export interface ExitInfo {
  name: string;
  predicted: number;
  /** Max softmax of the head. */
  confidence: number;
}

/** What early-exit inference (earlyExitPredict: later layers never run) spent on one image. */
export interface EarlyExitRun {
  thresholds: number[];
  /** Head that answered: an exit head's name, or the final classifier's. */
  exitAt: string;
  exitIndex: number;
  predicted: number;
  macs: number;
  /** Every layer, heads included: what a run that reaches the final classifier costs. */
  fullModelMacs: number;
}

export interface Int8Run {
  predicted: number;
  logits: number[];
  /** -1: the final classifier answered; else the exit head index (with the same thresholds, exported). */
  exitTaken: number;
  /** MACs the integer reference executed with early exits on. */
  macs: number;
}

export interface Prediction {
  source: 'test' | 'drawn';
  /** Test image index (null for a drawing). */
  index: number | null;
  label: number | null;
  /** The 784 input pixels, 0..255. */
  pixels: number[];
  predicted: number;
  probabilities: number[];
  /** Final classifier logits (model output 0). */
  logits: number[];
  exits: ExitInfo[];
  /** Concept probabilities (the concept bottleneck's output). */
  concepts: number[];
  early: EarlyExitRun;
  /** Filled once the int8 graph has loaded. */
  int8: Int8Run | null;
  ms: number;
}

export interface ExitCurve {
  images: number;
  heads: string[];
  exitMacs: number[];
  fullModelMacs: number;
  /** One common threshold for both exit heads per point; 'never' is 1.01. */
  points: SweepPoint[];
  /** The model's tuned thresholds, one per exit head. */
  tuned: Omit<SweepPoint, 'threshold'> & { thresholds: number[] };
  /** Accuracy of the final classifier alone (no exits). */
  finalAccuracy: number;
  ms: number;
}

export interface ExitSetting {
  mode: 'tuned' | 'slider';
  thresholds: number[];
  /** The setting replayed over the curve's images. */
  point: Omit<SweepPoint, 'threshold'> | null;
}

export interface Intervention {
  index: number | null;
  /** concept index -> value (0 or 1). */
  values: Record<number, number>;
  before: { predicted: number; logits: number[] };
  after: { predicted: number; logits: number[]; probabilities: number[] };
  /** The same intervention on the int8 graph (concept codes overwritten), when loaded. */
  int8: { before: number; after: number; logits: number[] } | null;
}

export interface StreamFrame {
  predicted: number;
  /** Inputs of fc7 whose delta was zero (not sent). */
  zeroDeltas: number;
  totalDeltas: number;
  /** MACs the float delta network executed for fc7 (zero deltas skip their column). */
  macs: number;
  denseMacs: number;
  /** Max |delta network output - fc7 output| (the delta network is exact up to float rounding). */
  maxError: number;
  /** The int8 delta_dense op, streaming (state kept between frames). */
  int8: { predicted: number; macs: number; denseMacs: number } | null;
}

export interface StreamState {
  /** Test image index the clip moves (null: a drawing). */
  index: number | null;
  frames: StreamFrame[];
  /** The clip's pixels, frames * 784. */
  clip: number[];
  playing: boolean;
  /** Frame on screen now, and how many frames have been drawn since the stream started. */
  shown: number;
  drawn: number;
}

export interface LayerState {
  /** countModel of the float model: what `tinyblocks info` prints. */
  float: LayerCount[];
  /** report.json of `tinyblocks export`: the int8 nodes, totals and arena plan. */
  report: ExportReport;
}

export interface Timings {
  /** ms after navigation start (performance.now()). */
  backendReady: number | null;
  modelLoaded: number | null;
  firstPrediction: number | null;
  curveReady: number | null;
  int8Ready: number | null;
}

export interface PageState {
  requestedBackend: string;
  backend: string | null;
  error: string | null;
  /** The first prediction is on screen. */
  ready: boolean;
  timings: Timings;
  predictions: Prediction[];
  current: Prediction | null;
  curve: ExitCurve | null;
  exitSetting: ExitSetting | null;
  intervention: Intervention | null;
  stream: StreamState | null;
  layers: LayerState | null;
  /** Test images' labels and count (the shipped subset). */
  testImages: number;
  /** For tests and the bench: classify test image i / a 784-pixel array, time n classifications. */
  api?: {
    classifyTest(index: number): Promise<Prediction>;
    classifyPixels(pixels: number[]): Promise<Prediction>;
    timeInference(n: number): Promise<number>;
  };
}

declare global {
  interface Window {
    __tinyblocks: PageState;
  }
}
