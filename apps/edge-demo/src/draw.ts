/**
 * A 28x28 drawing pad. The pointer paints straight into Fashion-MNIST pixels (0 = background,
 * 255 = fabric) with a soft round brush; a negative radius erases. `onChange` fires at most once
 * per animation frame while drawing, and once when the stroke ends.
 */
import { paint } from './dom.js';

export class DrawingPad {
  readonly pixels = new Uint8Array(784);
  radius = 2.6;
  private last: [number, number] | null = null;
  private pending = false;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly onChange: (pixels: Uint8Array) => void) {
    paint(canvas, this.pixels);
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.last = null;
      this.stroke(e);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (e.buttons & 1) this.stroke(e);
    });
    const end = () => {
      if (this.last === null) return;
      this.last = null;
      this.onChange(this.pixels);
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  clear(): void {
    this.pixels.fill(0);
    paint(this.canvas, this.pixels);
  }

  load(pixels: ArrayLike<number>): void {
    this.pixels.set(pixels);
    paint(this.canvas, this.pixels);
  }

  /** Paints from the last pointer position to this one (dabs every half pixel). */
  private stroke(e: PointerEvent): void {
    const box = this.canvas.getBoundingClientRect();
    const p: [number, number] = [((e.clientX - box.left) / box.width) * 28, ((e.clientY - box.top) / box.height) * 28];
    const from = this.last ?? p;
    const steps = Math.max(1, Math.ceil(Math.hypot(p[0] - from[0], p[1] - from[1]) * 2));
    for (let s = 1; s <= steps; s++) this.dab(from[0] + ((p[0] - from[0]) * s) / steps, from[1] + ((p[1] - from[1]) * s) / steps);
    this.last = p;
    paint(this.canvas, this.pixels);
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        if (this.last !== null) this.onChange(this.pixels);
      });
    }
  }

  /** Pixel centres within |radius| get up to 255 (or lose it when erasing), fading to the edge. */
  private dab(cx: number, cy: number): void {
    const r = Math.abs(this.radius);
    const sign = this.radius < 0 ? -1 : 1;
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(27, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(27, Math.ceil(cx + r)); x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        if (d >= r) continue;
        const v = this.pixels[y * 28 + x]! + sign * Math.round(255 * Math.min(1, 1.5 * (1 - d / r)));
        this.pixels[y * 28 + x] = Math.max(0, Math.min(255, v));
      }
    }
  }
}
