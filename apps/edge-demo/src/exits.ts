/**
 * Early exits: which head answered the current image and what it spent, the threshold setting
 * (the model's tuned one per head, or one slider for both), and the accuracy / average-MACs
 * curve over the shipped test images. The curve runs every head once on every image
 * (headProbabilities, in chunks so the page stays live) and replays the exit rule per setting.
 */
import { applyThresholds, concatHeadProbabilities, type HeadProbabilities } from '@tinyblocks/early-exit';
import { FASHION_MNIST_CLASSES } from '@tinyblocks/datasets/browser';
import { $, esc, int, pct, yieldToPage } from './dom.js';
import type { DemoModel } from './model.js';
import type { ExitCurve, ExitSetting, PageState, Prediction } from './state.js';
import { curveChart } from './svg.js';

/** Common thresholds drawn on the curve; 1.01 is above any softmax: nobody exits early. */
export const CURVE_THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 1.01];
/** Images per chunk adapt so a chunk takes about this long (the page stays responsive on cpu too). */
const CHUNK_MS = 120;

export async function computeCurve(model: DemoModel, images: Uint8Array, labels: Uint8Array, onProgress: (done: number, total: number) => void): Promise<{ curve: ExitCurve; probs: HeadProbabilities }> {
  const t0 = performance.now();
  const total = labels.length;
  const parts: HeadProbabilities[] = [];
  let chunk = 16;
  for (let from = 0; from < total; ) {
    const n = Math.min(chunk, total - from);
    const t = performance.now();
    parts.push(model.headProbabilities(images, labels, from, n));
    from += n;
    const ms = Math.max(1, performance.now() - t);
    chunk = Math.max(4, Math.min(500, Math.round((n * CHUNK_MS) / ms)));
    onProgress(from, total);
    await yieldToPage();
  }
  const probs = concatHeadProbabilities(parts);
  const exits = probs.probabilities.length - 1;
  const at = (t: number[]) => applyThresholds(probs, t);
  const points = CURVE_THRESHOLDS.map((t) => ({ threshold: t, ...at(new Array<number>(exits).fill(t)) }));
  const tuned = { thresholds: [...model.tunedThresholds], ...at(model.tunedThresholds) };
  const curve: ExitCurve = {
    images: total,
    heads: probs.heads,
    exitMacs: probs.exitMacs,
    fullModelMacs: probs.fullModelMacs,
    points,
    tuned,
    finalAccuracy: at(new Array<number>(exits).fill(2)).accuracy,
    ms: performance.now() - t0,
  };
  return { curve, probs };
}

export class ExitPanel {
  private probs: HeadProbabilities | null = null;

  constructor(private readonly state: PageState, model: DemoModel, private readonly onChange: () => void) {
    const tuned = model.tunedThresholds;
    state.exitSetting = { mode: 'tuned', thresholds: [...tuned], point: null };
    $('tunedText').textContent = `(${tuned.join(' / ')}, chosen by tinyblocks retrain-exits on other test images)`;
    const slider = $<HTMLInputElement>('threshold');
    const set = (mode: ExitSetting['mode']) => {
      const t = Number(slider.value);
      $('thresholdText').textContent = t.toFixed(3);
      this.setting({ mode, thresholds: mode === 'tuned' ? [...tuned] : tuned.map(() => t) });
    };
    slider.addEventListener('input', () => {
      $<HTMLInputElement>('mode-slider').checked = true;
      set('slider');
    });
    $('mode-tuned').addEventListener('change', () => set('tuned'));
    $('mode-slider').addEventListener('change', () => set('slider'));
  }

  thresholds(): number[] {
    return this.state.exitSetting!.thresholds;
  }

  private setting(s: Pick<ExitSetting, 'mode' | 'thresholds'>): void {
    this.state.exitSetting = { ...s, point: this.probs ? applyThresholds(this.probs, s.thresholds) : null };
    this.renderCurve();
    this.onChange();
  }

  progress(done: number, total: number): void {
    $('curveStatus').textContent = `accuracy / MACs curve: running every head on ${int(done)} of ${int(total)} test images…`;
  }

  setCurve(curve: ExitCurve, probs: HeadProbabilities): void {
    this.probs = probs;
    this.state.curve = curve;
    this.state.exitSetting!.point = applyThresholds(probs, this.thresholds());
    $('curveStatus').textContent = `${int(curve.images)} shipped test images, every head run once (${(curve.ms / 1000).toFixed(1)} s on ${this.state.backend}); each dot one threshold for both heads, replayed`;
    this.renderCurve();
  }

  /** The current image: every head's answer and confidence, where early-exit inference stopped. */
  show(p: Prediction): void {
    const e = p.early;
    const rows = p.exits.map((h, i) => {
      const t = e.thresholds[i]!;
      const taken = e.exitIndex === i;
      return `<tr class="${taken ? 'top' : ''}"><td>${esc(h.name)}</td><td>${esc(FASHION_MNIST_CLASSES[h.predicted]!)}</td><td class="num">${h.confidence.toFixed(4)}</td><td class="num">${t > 1 ? 'never' : t.toFixed(3)}</td><td>${taken ? 'answers' : e.exitIndex < i ? 'not run' : 'below threshold: go on'}</td></tr>`;
    });
    const last = e.exitIndex === p.exits.length;
    rows.push(`<tr class="${last ? 'top' : ''}"><td>final (concepts)</td><td>${esc(FASHION_MNIST_CLASSES[p.predicted]!)}</td><td class="num">${p.probabilities[p.predicted]!.toFixed(4)}</td><td></td><td>${last ? 'answers' : 'not run'}</td></tr>`);
    $('heads').innerHTML = `<tr><th>head</th><th>prediction</th><th class="num">confidence</th><th class="num">threshold</th><th></th></tr>${rows.join('')}`;
    $('exitAt').innerHTML =
      `early-exit inference answered at <b>${esc(e.exitAt)}</b>: <b>${esc(FASHION_MNIST_CLASSES[e.predicted]!)}</b>, ` +
      `${int(e.macs)} MACs of the full model's ${int(e.fullModelMacs)} (${pct(1 - e.macs / e.fullModelMacs)} saved)`;
  }

  private renderCurve(): void {
    const c = this.state.curve;
    const s = this.state.exitSetting!;
    if (!c || !s.point) return;
    const x = (macs: number) => macs / c.fullModelMacs;
    const label = (t: number) => (t > 1 ? 'never' : String(t));
    $('curve').innerHTML = curveChart({
      points: c.points.map((p) => ({ x: x(p.averageMacs), y: p.accuracy, label: `threshold ${label(p.threshold)}: accuracy ${p.accuracy.toFixed(4)}, ${pct(x(p.averageMacs))} of the MACs` })),
      marks: [
        { x: x(c.tuned.averageMacs), y: c.tuned.accuracy, cls: 'tuned', label: `tuned ${c.tuned.thresholds.join(' / ')}` },
        { x: x(s.point.averageMacs), y: s.point.accuracy, cls: 'current', label: 'current setting' },
      ],
      xLabel: 'average MACs per image (share of the full model)',
      yLabel: 'accuracy',
      xFormat: (v) => pct(v, 0),
      yFormat: (v) => v.toFixed(3),
    });
    const p = s.point;
    $('exitPoint').innerHTML =
      `over the ${int(c.images)} test images at ${s.thresholds.map((t) => (t > 1 ? 'never' : t.toFixed(3))).join(' / ')}: accuracy <b>${p.accuracy.toFixed(4)}</b> ` +
      `(no exits ${c.finalAccuracy.toFixed(4)}), <b>${int(p.averageMacs)}</b> average MACs (${pct(1 - p.averageMacs / c.fullModelMacs)} saved); ` +
      `answered by ${c.heads.map((h, i) => `${esc(h)} ${int(p.exitHistogram[i]!)}`).join(', ')}`;
  }
}
