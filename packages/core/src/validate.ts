import { ConfigError, ShapeError, type Where } from './errors.js';

type Shape = ReadonlyArray<number | null>;

/** `[?, 28, 28, 1]`: unknown (batch) dimensions shown as `?`. */
export function shapeText(shape: Shape): string {
  return `[${shape.map((d) => d ?? '?').join(', ')}]`;
}

export function layerWhere(className: string, name?: string): Where {
  return { layer: name ? `${className} '${name}'` : className };
}

export function requireFiniteNumber(where: Where, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ConfigError(where, field, 'a finite number', value);
  }
  return value;
}

export function requirePositive(where: Where, field: string, value: unknown): number {
  const v = requireFiniteNumber(where, field, value);
  if (!(v > 0)) throw new ConfigError(where, field, 'a number > 0', value);
  return v;
}

export function requirePositiveInt(where: Where, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(where, field, 'an integer > 0', value);
  }
  return value;
}

export function requireNonNegative(where: Where, field: string, value: unknown): number {
  const v = requireFiniteNumber(where, field, value);
  if (v < 0) throw new ConfigError(where, field, 'a number >= 0', value);
  return v;
}

export function requireOneOf<T extends string>(
  where: Where,
  field: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(where, field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

/** Checks the rank of an input shape (batch included). `ranks` lists the accepted ranks. */
export function requireRank(where: Where, field: string, shape: Shape, ranks: readonly number[]): void {
  if (!ranks.includes(shape.length)) {
    const want = ranks.length === 1 ? `rank ${ranks[0]}` : `rank ${ranks.join(' or ')}`;
    throw new ShapeError(where, field, want, `rank ${shape.length} (shape ${shapeText(shape)})`);
  }
}

/** Checks the last (channel) dimension of an input shape, when it is known. */
export function requireChannels(where: Where, field: string, shape: Shape, channels: number): void {
  const c = shape[shape.length - 1];
  if (c != null && c !== channels) {
    throw new ShapeError(where, field, `${channels} channels in the last axis`, `${c} (shape ${shapeText(shape)})`);
  }
}
