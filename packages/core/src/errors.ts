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

export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
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
