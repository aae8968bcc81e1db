/**
 * The delta layer on a moving Fashion-MNIST clip. The float model computes the delta layer's
 * outputs for all frames at once; a delta network (DeltaDense, @tinyblocks/delta) then runs
 * fc7 frame by frame, sending only the inputs that changed since the last frame: a zero delta
 * skips its weight column. The int8 graph streams the same clip through its delta_dense op (state
 * kept between frames), the integers the generated C computes. Frames play in a loop.
 */
import { DeltaDense } from '@tinyblocks/delta';
import { FASHION_MNIST_CLASSES, movingFashionMnist } from '@tinyblocks/datasets/browser';
import { $, int, paint, pct } from './dom.js';
import type { Int8Model } from './int8.js';
import type { DemoModel } from './model.js';
import type { PageState, StreamFrame } from './state.js';
import { barStrip } from './svg.js';

export const FRAMES = 32;
/** The clip the CLI's demo reports on uses the same seed. */
export const STREAM_SEED = 7;
const FPS = 8;

export class StreamPanel {
  private timer: ReturnType<typeof setInterval> | null = null;
  int8: Int8Model | null = null;

  constructor(private readonly state: PageState, private readonly model: DemoModel) {
    $('play').addEventListener('click', () => (this.state.stream?.playing ? this.pause() : this.play()));
  }

  /** Builds the clip of `pixels`, runs it through both models and starts playing. */
  async start(pixels: ArrayLike<number>, index: number | null): Promise<void> {
    this.pause();
    const clip = movingFashionMnist({ image: Uint8Array.from(pixels), frames: FRAMES, seed: STREAM_SEED });
    const d = await this.model.deltaOutputs(clip, FRAMES);
    const frames: StreamFrame[] = [];
    const net = d.next ? new DeltaDense(d.next.kernel, d.next.bias, 0) : null;
    const int8 = this.int8?.stream(clip, FRAMES) ?? null;
    for (let t = 0; t < FRAMES; t++) {
      const q = d.q.subarray(t * d.width, (t + 1) * d.width);
      let zeroDeltas = 0;
      let macs = 0;
      let maxError = 0;
      if (net && d.next) {
        const before = net.getStats();
        const acc = net.step(q);
        const after = net.getStats();
        zeroDeltas = after.zeroDeltas - before.zeroDeltas;
        macs = after.macs - before.macs;
        for (let j = 0; j < d.next.units; j++) maxError = Math.max(maxError, Math.abs(acc[j]! - d.next.out[t * d.next.units + j]!));
      }
      frames.push({ predicted: d.predicted[t]!, zeroDeltas, totalDeltas: d.width, macs, denseMacs: d.next ? d.width * d.next.units : 0, maxError, int8: int8?.[t] ?? null });
    }
    this.state.stream = { index, frames, clip: Array.from(clip), playing: false, shown: 0, drawn: 0 };
    this.totals();
    this.play();
  }

  play(): void {
    const s = this.state.stream;
    if (!s || this.timer) return;
    s.playing = true;
    $('play').textContent = 'pause';
    this.draw();
    this.timer = setInterval(() => {
      s.shown = (s.shown + 1) % s.frames.length;
      this.draw();
    }, 1000 / FPS);
  }

  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.state.stream) this.state.stream.playing = false;
    $('play').textContent = 'play';
  }

  private draw(): void {
    const s = this.state.stream!;
    const t = s.shown;
    const f = s.frames[t]!;
    s.drawn++;
    paint($<HTMLCanvasElement>('frame'), s.clip.slice(t * 784, (t + 1) * 784));
    $('frameText').innerHTML =
      `frame ${t + 1}/${s.frames.length}: <b>${FASHION_MNIST_CLASSES[f.predicted]}</b>; ` +
      `zero deltas ${pct(f.zeroDeltas / f.totalDeltas)} (${int(f.zeroDeltas)} of ${int(f.totalDeltas)}), fc7 skipped ${int(f.denseMacs - f.macs)} of ${int(f.denseMacs)} MACs` +
      (f.int8 ? `; int8 delta_dense skipped ${int(f.int8.denseMacs - f.int8.macs)}` : '');
    $('frameChart').innerHTML = barStrip(s.frames.map((x) => x.zeroDeltas / x.totalDeltas), t, {
      title: (i) => `frame ${i + 1}: ${pct(s.frames[i]!.zeroDeltas / s.frames[i]!.totalDeltas)} zero deltas`,
    });
  }

  private totals(): void {
    const s = this.state.stream!;
    const sum = (f: (x: StreamFrame) => number) => s.frames.reduce((a, x) => a + f(x), 0);
    const later = s.frames.slice(1);
    const zeroLater = later.reduce((a, x) => a + x.zeroDeltas, 0) / later.reduce((a, x) => a + x.totalDeltas, 0);
    const int8 = s.frames[0]!.int8 ? `; int8 (streaming, as the C _stream call): ${int(sum((x) => x.int8!.macs))} of ${int(sum((x) => x.int8!.denseMacs))} MACs executed (${pct(1 - sum((x) => x.int8!.macs) / sum((x) => x.int8!.denseMacs))} skipped)` : '';
    const err = Math.max(...s.frames.map((x) => x.maxError));
    $('streamTotals').innerHTML =
      `bars: zero deltas per frame (frame 1 starts from nothing). After the first frame ${pct(zeroLater)} of fc7's inputs do not change. ` +
      `Over the clip the float delta network ran ${int(sum((x) => x.macs))} of ${int(sum((x) => x.denseMacs))} fc7 MACs (${pct(1 - sum((x) => x.macs) / sum((x) => x.denseMacs))} skipped), ` +
      `its output within ${err.toExponential(1)} of fc7's${int8}.`;
  }
}
