/** Two tiny SVG charts: a curve through points with highlighted marks, and a row of bars. */
import { esc } from './dom.js';

export interface XY {
  x: number;
  y: number;
  label?: string;
}

const ticks = (lo: number, hi: number, n: number) => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);

/** A curve (points joined in order) with dots, and marks drawn as rings (class per mark). */
export function curveChart(o: {
  points: XY[];
  marks: Array<XY & { cls: string }>;
  xLabel: string;
  yLabel: string;
  xFormat: (x: number) => string;
  yFormat: (y: number) => string;
  width?: number;
  height?: number;
}): string {
  const W = o.width ?? 460;
  const H = o.height ?? 260;
  const m = { l: 52, r: 12, t: 10, b: 38 };
  const all = [...o.points, ...o.marks];
  const pad = (lo: number, hi: number) => (hi - lo < 1e-9 ? [lo - 0.01, hi + 0.01] : [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05]);
  const [x0, x1] = pad(Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x)));
  const [y0, y1] = pad(Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y)));
  const sx = (x: number) => m.l + ((x - x0!) / (x1! - x0!)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0!) / (y1! - y0!)) * (H - m.t - m.b);
  const path = o.points.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join('');
  const xt = ticks(x0!, x1!, 4).map((v) => `<text x="${sx(v)}" y="${H - m.b + 14}" text-anchor="middle">${esc(o.xFormat(v))}</text>`);
  const yt = ticks(y0!, y1!, 4).map((v) => `<text x="${m.l - 4}" y="${sy(v) + 4}" text-anchor="end">${esc(o.yFormat(v))}</text>`);
  const dots = o.points.map((p) => `<circle class="pt" cx="${sx(p.x)}" cy="${sy(p.y)}" r="2.5"><title>${esc(p.label ?? '')}</title></circle>`);
  const marks = o.marks.map((p) => `<circle class="${p.cls}" cx="${sx(p.x)}" cy="${sy(p.y)}" r="${p.cls === 'current' ? 6 : 4}"><title>${esc(p.label ?? '')}</title></circle>`);
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">
    <line class="axis" x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}"/><line class="axis" x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}"/>
    ${xt.join('')}${yt.join('')}
    <text x="${(W + m.l) / 2}" y="${H - 4}" text-anchor="middle">${esc(o.xLabel)}</text>
    <text x="12" y="${(H - m.b) / 2}" transform="rotate(-90 12 ${(H - m.b) / 2})" text-anchor="middle">${esc(o.yLabel)}</text>
    <path class="curve" d="${path}"/>${dots.join('')}${marks.join('')}
  </svg>`;
}

/** One bar per value (0..1), the bar at `highlight` in another colour. */
export function barStrip(values: number[], highlight: number, o: { width?: number; height?: number; title?: (i: number) => string } = {}): string {
  const W = o.width ?? 320;
  const H = o.height ?? 60;
  const w = W / Math.max(1, values.length);
  const bars = values.map((v, i) => {
    const h = Math.max(1, v * (H - 2));
    return `<rect x="${(i * w + 1).toFixed(1)}" y="${(H - h).toFixed(1)}" width="${Math.max(1, w - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${i === highlight ? '#b00020' : '#06c'}"><title>${esc(o.title?.(i) ?? String(v))}</title></rect>`;
  });
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">${bars.join('')}</svg>`;
}
