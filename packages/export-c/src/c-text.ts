/** Small, deterministic C text helpers: identifiers, literals, arrays. */

/** A C identifier from any node or suffix name: other characters become '_', no leading digit. */
export function cIdent(text: string): string {
  let s = text.replace(/[^A-Za-z0-9_]/g, '_');
  if (s === '' || /^[0-9]/.test(s)) s = `_${s}`;
  return s;
}

/** Text safe inside a C block comment (no terminator, one line). */
export function cComment(text: string): string {
  return text.replace(/\*\//g, '* /').replace(/[\r\n]+/g, ' ');
}

/** An integer as a C literal; INT32_MIN as `(-2147483647 - 1)`, negatives parenthesised. */
export function cInt(v: number): string {
  if (v === -2147483648) return '(-2147483647 - 1)';
  return v < 0 ? `(${v})` : String(v);
}

/** An unsigned count: `123u` when it fits 32 bits, else `123ull`. */
export function cUnsigned(v: number): string {
  return v <= 0xffffffff ? `${v}u` : `${v}ull`;
}

/** The shortest decimal that reads back as the same float32, as a C float literal (`0.0125f`). */
export function cFloat(x: number): string {
  const f = Math.fround(x);
  let s = String(f);
  for (let p = 1; p <= 9; p++) {
    const t = f.toPrecision(p);
    if (Math.fround(Number(t)) === f) {
      s = t;
      break;
    }
  }
  if (!/[.e]/.test(s)) s += '.0';
  s = s.replace(/e([+-]?)(\d+)$/, (_m, sign: string, d: string) => `e${sign === '-' ? '-' : '+'}${d}`);
  if (/^[0-9]+e/.test(s)) s = s.replace('e', '.0e');
  return `${s}f`;
}

export type CType = 'int8_t' | 'uint8_t' | 'int16_t' | 'int32_t';

export const C_TYPES: Record<CType, { bytes: number; min: number; max: number }> = {
  int8_t: { bytes: 1, min: -128, max: 127 },
  uint8_t: { bytes: 1, min: 0, max: 255 },
  int16_t: { bytes: 2, min: -32768, max: 32767 },
  int32_t: { bytes: 4, min: -2147483648, max: 2147483647 },
};

/** Values of an initializer, a fixed number per line, each line indented and ending with ','. */
export function cValues(values: ArrayLike<number>, perLine = 16): string {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += perLine) {
    const row: string[] = [];
    for (let j = i; j < Math.min(i + perLine, values.length); j++) {
      const v = values[j]!;
      row.push(v === -2147483648 ? '(-2147483647 - 1)' : String(v));
    }
    lines.push(`  ${row.join(', ')},`);
  }
  return lines.join('\n');
}
