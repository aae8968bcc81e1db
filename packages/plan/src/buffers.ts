/**
 * The arena planning primitive: place buffers with known lifetimes in one block of memory so that
 * two buffers alive at the same step never share a byte, and the block is as small as we can make
 * it.
 *
 * - A buffer occupies `[offset, offset + roundUp(size, align))`; every offset is a multiple of
 *   `align`. Lifetimes are inclusive step ranges `[first, last]`: two buffers conflict when
 *   `a.first <= b.last && b.first <= a.last`.
 * - Baseline, computed in the same call: TFLite Micro's greedy-by-size planner (buffers by size,
 *   largest first, ties in input order; each at the lowest offset that fits between the
 *   conflicting buffers already placed).
 * - Ours: four orderings (size, size x lifetime, first use, lifetime length), each with best-fit
 *   (the smallest gap that holds the buffer) and first-fit (the lowest such gap) placement, plus
 *   the baseline itself; the smallest arena wins (ties: the first in that list). So
 *   `arenaSize <= greedyBySize.arenaSize` always.
 * - `lowerBound`: the most bytes (rounded up to `align`) alive at any one step; no placement can
 *   use less.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';

export interface PlanBuffer {
  /** Any integer, unique among the buffers (a tensor id in planArena). */
  id: number;
  /** Bytes (integer >= 0). */
  size: number;
  /** First step the buffer is alive (written). */
  first: number;
  /** Last step the buffer is alive (read), inclusive; >= first. */
  last: number;
}

export interface PlanOptions {
  /** Every offset is a multiple of this; sizes are rounded up to it. Default 16. */
  align?: number;
}

export type PlanOrder = 'size' | 'size*lifetime' | 'first-use' | 'lifetime';
export type PlanFit = 'best-fit' | 'first-fit';
/** `'<order>/<fit>'` for our heuristics, or `'greedy-by-size'` when the baseline was smallest. */
export type PlanMethod = `${PlanOrder}/${PlanFit}` | 'greedy-by-size';

export interface BufferPlan {
  /** Offset of `buffers[i]` (same order as the input). */
  offsets: number[];
  /** Bytes the arena needs: max(offset + roundUp(size, align)), 0 when there are no buffers. */
  arenaSize: number;
  /** The heuristic whose placement is returned. */
  method: PlanMethod;
  /** TFLite's greedy-by-size placement of the same buffers. */
  greedyBySize: { arenaSize: number; offsets: number[] };
  /** max over steps of the aligned bytes alive at that step. */
  lowerBound: number;
  /** Arena size of every heuristic tried, in the order tried. */
  candidates: Array<{ method: PlanMethod; arenaSize: number }>;
}

export const ORDERS: readonly PlanOrder[] = ['size', 'size*lifetime', 'first-use', 'lifetime'];
export const FITS: readonly PlanFit[] = ['best-fit', 'first-fit'];

interface Item {
  index: number;
  size: number; // aligned
  first: number;
  last: number;
}

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

function checkInput(buffers: readonly PlanBuffer[], options: PlanOptions): number {
  const where = { op: 'planBuffers' };
  const align = options.align ?? 16;
  if (!Number.isInteger(align) || align < 1) throw new ConfigError(where, 'align', 'an integer >= 1', align);
  if (!Array.isArray(buffers)) throw new DataError(where, 'buffers', 'an array of { id, size, first, last }', buffers);
  const ids = new Set<number>();
  buffers.forEach((b, i) => {
    const f = `buffers[${i}]`;
    if (!b || typeof b !== 'object') throw new DataError(where, f, 'an object { id, size, first, last }', b);
    if (!Number.isInteger(b.id)) throw new DataError(where, `${f}.id`, 'an integer', b.id);
    if (ids.has(b.id)) throw new DataError(where, `${f}.id`, 'a unique id', b.id);
    ids.add(b.id);
    if (!Number.isSafeInteger(b.size) || b.size < 0) throw new DataError(where, `${f}.size`, 'an integer >= 0', b.size);
    if (!Number.isInteger(b.first) || b.first < 0) throw new DataError(where, `${f}.first`, 'an integer >= 0', b.first);
    if (!Number.isInteger(b.last) || b.last < b.first) throw new DataError(where, `${f}.last`, `an integer >= first (${b.first})`, b.last);
  });
  return align;
}

function conflict(a: Item, b: Item): boolean {
  return a.first <= b.last && b.first <= a.last;
}

/** Places items in the given order; returns offsets by item index. */
function place(items: readonly Item[], order: readonly Item[], fit: PlanFit): number[] {
  const offsets = new Array<number>(items.length).fill(0);
  const placed: Item[] = [];
  for (const b of order) {
    if (b.size > 0) {
      const others = placed.filter((p) => conflict(p, b)).sort((p, q) => offsets[p.index]! - offsets[q.index]! || p.index - q.index);
      let cur = 0;
      let best = -1;
      let bestGap = Infinity;
      for (const p of others) {
        const start = offsets[p.index]!;
        const gap = start - cur;
        if (gap >= b.size && gap < bestGap) {
          best = cur;
          bestGap = gap;
          if (fit === 'first-fit') break;
        }
        cur = Math.max(cur, start + p.size);
      }
      offsets[b.index] = best >= 0 ? best : cur;
    }
    placed.push(b);
  }
  return offsets;
}

function arenaOf(items: readonly Item[], offsets: readonly number[]): number {
  let size = 0;
  for (const b of items) size = Math.max(size, offsets[b.index]! + b.size);
  return size;
}

function sorted(items: readonly Item[], order: PlanOrder): Item[] {
  const life = (b: Item) => b.last - b.first + 1;
  const key: Record<PlanOrder, (a: Item, b: Item) => number> = {
    size: (a, b) => b.size - a.size || a.first - b.first,
    'size*lifetime': (a, b) => b.size * life(b) - a.size * life(a) || b.size - a.size,
    'first-use': (a, b) => a.first - b.first || b.size - a.size,
    lifetime: (a, b) => life(b) - life(a) || b.size - a.size,
  };
  const cmp = key[order];
  return [...items].sort((a, b) => cmp(a, b) || a.index - b.index);
}

/** Most aligned bytes alive at one step (a sweep over the lifetime boundaries). */
function maxLive(items: readonly Item[]): number {
  const events: Array<[number, number]> = [];
  for (const b of items) {
    events.push([b.first, b.size], [b.last + 1, -b.size]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // frees before allocations at the same step
  let live = 0;
  let peak = 0;
  for (const [, d] of events) {
    live += d;
    peak = Math.max(peak, live);
  }
  return peak;
}

/** Plans one arena for the buffers; see the file comment for the guarantees. */
export function planBuffers(buffers: readonly PlanBuffer[], options: PlanOptions = {}): BufferPlan {
  const align = checkInput(buffers, options);
  const items: Item[] = buffers.map((b, index) => ({ index, size: alignUp(b.size, align), first: b.first, last: b.last }));

  const greedyOrder = [...items].sort((a, b) => b.size - a.size || a.index - b.index);
  const greedyOffsets = place(items, greedyOrder, 'first-fit');
  const greedy = { arenaSize: arenaOf(items, greedyOffsets), offsets: greedyOffsets };

  const candidates: BufferPlan['candidates'] = [];
  let best: { method: PlanMethod; offsets: number[]; arenaSize: number } | null = null;
  const consider = (method: PlanMethod, offsets: number[]) => {
    const arenaSize = arenaOf(items, offsets);
    candidates.push({ method, arenaSize });
    if (!best || arenaSize < best.arenaSize) best = { method, offsets, arenaSize };
  };
  for (const fit of FITS) {
    for (const order of ORDERS) consider(`${order}/${fit}`, place(items, sorted(items, order), fit));
  }
  consider('greedy-by-size', greedyOffsets);
  const chosen = best as unknown as { method: PlanMethod; offsets: number[]; arenaSize: number };
  return {
    offsets: chosen.offsets,
    arenaSize: chosen.arenaSize,
    method: chosen.method,
    greedyBySize: greedy,
    lowerBound: maxLive(items),
    candidates,
  };
}
