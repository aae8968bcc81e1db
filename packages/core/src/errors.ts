/**
 * Typed errors. Every message names where the problem is (layer or file), the field, what was
 * expected and what was got, so a user can fix the input without reading our source.
 */

export type Where = { layer: string } | { file: string } | { op: string };

function whereText(where: Where): string {
  if ('layer' in where) return where.layer;
  if ('file' in where) return where.file;
  return where.op;
}

/** At most this much of a value goes into a message (a compiler's diagnostics fit; a 1.5 MB array does not). */
const MAX_GOT = 4000;

/** A value as a short string for messages: at most 4,000 characters, 20 items, nesting shown to 3 levels. */
export function describe(value: unknown): string {
  const text = describeAt(value, 0);
  return text.length > MAX_GOT ? `${text.slice(0, MAX_GOT)}… (${text.length.toLocaleString('en-US')} characters)` : text;
}

function describeAt(value: unknown, depth: number): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > MAX_GOT ? `${value.slice(0, MAX_GOT)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (depth >= 3) return Array.isArray(value) ? '[…]' : '{…}';
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const items = Array.from((value as ArrayLike<unknown>) as unknown[]).slice(0, 20);
    const n = (value as ArrayLike<unknown>).length;
    return `[${items.map((v) => describeAt(v, depth + 1)).join(', ')}${n > 20 ? `, … (${n.toLocaleString('en-US')} items)` : ''}]`;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value as object);
    const parts = keys.slice(0, 10).map((k) => `${JSON.stringify(k)}:${describeAt((value as Record<string, unknown>)[k], depth + 1)}`);
    return `{${parts.join(',')}${keys.length > 10 ? `,… (${keys.length} keys)` : ''}}`;
  }
  return String(value);
}

/** Base class of every error tinyblocks throws on purpose. */
export class TinyblocksError extends Error {
  readonly where: string;
  readonly field: string;
  readonly expected: string;
  readonly got: string;

  constructor(where: Where, field: string, expected: string, got: unknown, hint?: string) {
    const gotText = describe(got);
    super(`${whereText(where)}: ${field}: expected ${expected}, got ${gotText}${hint ? ` (${hint})` : ''}`);
    this.name = new.target.name;
    this.where = whereText(where);
    this.field = field;
    this.expected = expected;
    this.got = gotText;
  }
}

/** A layer or op was configured with a value it cannot use. */
export class ConfigError extends TinyblocksError {}

/** A tensor reached a layer or op with a rank, shape or dtype it cannot take. */
export class ShapeError extends TinyblocksError {}

/** A file or data set is missing, corrupt or of the wrong format. */
export class DataError extends TinyblocksError {}

/** A requested tfjs backend could not start (no silent fallback). */
export class BackendError extends TinyblocksError {}
