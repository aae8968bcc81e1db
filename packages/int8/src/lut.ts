/**
 * 256-entry lookup tables for elementwise nonlinearities on int8 (blocks.md, "Integer inference").
 *
 * INDEXING: the entry for input code q (int8, -128..127) is `table[q + 128]`; in C,
 * `table[(int32_t)q + 128]` (runtime/tb_fixed_point.h, tb_lut_s8).
 * VALUE: `table[q + 128] = clamp(round(f(inScale * (q - inZp)) / outScale) + outZp, -128, 127)`
 * with round half away from zero, as C's lround. The float work happens here, at export; the
 * runtime does one load per value.
 */
import { ConfigError } from '@tinyblocks/core/base';
import { INT8_MAX, INT8_MIN, roundHalfAway, saturateInt8 } from './fixed-point.js';

function checkParams(where: string, scale: number, zp: number, name: string): void {
  if (!(Number.isFinite(scale) && scale > 0)) throw new ConfigError({ op: where }, `${name}Scale`, 'a finite number > 0', scale);
  if (!(Number.isInteger(zp) && zp >= INT8_MIN && zp <= INT8_MAX)) {
    throw new ConfigError({ op: where }, `${name}Zp`, 'an integer in [-128, 127]', zp);
  }
}

/** f evaluated on the 256 real values of the input grid: `grid[q + 128] = f(inScale * (q - inZp))`. */
export function evalOnGrid(fn: (x: number) => number, inScale: number, inZp: number): Float64Array {
  checkParams('evalOnGrid', inScale, inZp, 'in');
  const out = new Float64Array(256);
  for (let q = INT8_MIN; q <= INT8_MAX; q++) {
    const y = fn(inScale * (q - inZp));
    if (Number.isNaN(y)) throw new ConfigError({ op: 'evalOnGrid' }, `fn(${inScale * (q - inZp)})`, 'a number', y);
    out[q + 128] = y;
  }
  return out;
}

/** Builds the int8 table of `fn` for the given input and output quantisation. */
export function buildLut(fn: (x: number) => number, inScale: number, inZp: number, outScale: number, outZp: number): Int8Array {
  checkParams('buildLut', outScale, outZp, 'out');
  const y = evalOnGrid(fn, inScale, inZp);
  const table = new Int8Array(256);
  // +-Infinity saturates to 127 / -128 through the clamp
  for (let i = 0; i < 256; i++) table[i] = saturateInt8(roundHalfAway(y[i]! / outScale) + outZp);
  return table;
}

/** Applies a table to int8 codes: `out[i] = table[input[i] + 128]`. */
export function applyLut(table: Int8Array, input: Int8Array, out = new Int8Array(input.length)): Int8Array {
  for (let i = 0; i < input.length; i++) out[i] = table[input[i]! + 128]!;
  return out;
}

/** How often each int8 code occurs: `counts[q + 128]`. Feed it to chooseLutOutputParams. */
export function codeHistogram(codes: Int8Array, counts = new Float64Array(256)): Float64Array {
  for (let i = 0; i < codes.length; i++) counts[codes[i]! + 128] += 1;
  return counts;
}
