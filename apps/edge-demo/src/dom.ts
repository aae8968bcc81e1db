/** Small DOM helpers shared by the panels. */
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
};

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
export const pct = (v: number, digits = 1): string => `${(v * 100).toFixed(digits)}%`;
export const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** A horizontal bar `fraction` of `width` px long. */
export const bar = (fraction: number, width = 160, cls = ''): string =>
  `<span class="bar ${cls}" style="width:${Math.max(0, Math.round(fraction * width))}px"></span>`;

/** Paints 28x28 Fashion-MNIST pixels (0 = background) dark on white. */
export function paint(canvas: HTMLCanvasElement, pixels: ArrayLike<number>): void {
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(28, 28);
  for (let p = 0; p < 784; p++) {
    const v = 255 - pixels[p]!;
    img.data[p * 4] = img.data[p * 4 + 1] = img.data[p * 4 + 2] = v;
    img.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export const argmax = (xs: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
};

/** Lets the browser paint between chunks of work. */
export const yieldToPage = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
