import { parseArgs } from 'node:util';
import { ConfigError } from '@tinyblocks/core';

/** String options, and flags (`boolean`: present -> 'true'). */
export type OptionSpec = Record<string, { type: 'string' } | { type: 'boolean' }>;

/** node:util parseArgs (string options and flags) with errors turned into ConfigError naming the command and option. */
export function parse(
  command: string,
  argv: string[],
  options: OptionSpec,
): { values: Record<string, string | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    const strings = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'boolean' ? String(v) : v]));
    return { values: strings as Record<string, string | undefined>, positionals };
  } catch (err) {
    const e = err as Error & { code?: string };
    const where = { op: `tinyblocks ${command}` };
    const flag = /'(--?[A-Za-z0-9-]+)/.exec(e.message)?.[1] ?? 'arguments';
    if (/ambiguous/.test(e.message)) throw new ConfigError(where, flag, `a value (one that starts with '-' is written ${flag}=-1)`, 'a value starting with "-"');
    if (/argument missing/.test(e.message)) throw new ConfigError(where, flag, 'a value after it', 'nothing');
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new ConfigError(where, flag, `one of ${Object.keys(options).map((o) => `--${o}`).join(', ')}`, 'an unknown option');
    throw new ConfigError(where, flag, 'options as in tinyblocks --help', e.message.split('\n')[0]!);
  }
}

/** The most any count option takes (a bound, so `--epochs 1e12` is an error, not a week of work). */
export const MAX_COUNT = 10_000_000;

const isBlank = (v: string) => v.trim() === '';

export function intOption(command: string, name: string, value: string | undefined, fallback: number, min = 1, max = MAX_COUNT): number {
  if (value === undefined) return fallback;
  const n = isBlank(value) ? NaN : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError({ op: `tinyblocks ${command}` }, `--${name}`, `an integer from ${min} to ${max.toLocaleString('en-US')}`, value);
  return n;
}

/** A number option; `range` bounds it ((lo, hi] with `openLow`). */
export function numberOption(
  command: string, name: string, value: string | undefined, fallback: number,
  range: { min?: number; max?: number; openLow?: boolean } = {},
): number {
  if (value === undefined) return fallback;
  const n = isBlank(value) ? NaN : Number(value);
  const { min = -Infinity, max = Infinity, openLow = false } = range;
  const low = openLow ? n > min : n >= min;
  if (!Number.isFinite(n) || !low || n > max) {
    const what = Number.isFinite(min) || Number.isFinite(max) ? `a number in ${openLow ? '(' : '['}${min}, ${max}]` : 'a number';
    throw new ConfigError({ op: `tinyblocks ${command}` }, `--${name}`, what, value);
  }
  return n;
}

/**
 * `--exit-threshold`: one softmax confidence in (0, 1] (or `never`) for every exit head, or one
 * per head separated by commas.
 */
export function thresholdsOption(command: string, value: string | undefined, exitHeads: number): number[] | undefined {
  if (value === undefined) return undefined;
  const where = { op: `tinyblocks ${command}` };
  if (exitHeads === 0) throw new ConfigError(where, '--exit-threshold', 'no thresholds (the model has no early-exit heads)', value);
  const parts = value.split(',').map((t) => t.trim());
  if (parts.length !== 1 && parts.length !== exitHeads) {
    throw new ConfigError(where, '--exit-threshold', `one threshold, or one per exit head (${exitHeads})`, `${parts.length} values (${value})`);
  }
  const ts = parts.map((t) => (t === 'never' ? 2 : numberOption(command, 'exit-threshold', t, NaN, { min: 0, max: 1, openLow: true })));
  return parts.length === 1 ? new Array<number>(exitHeads).fill(ts[0]!) : ts;
}

export function choiceOption<T extends string>(command: string, name: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new ConfigError({ op: `tinyblocks ${command}` }, `--${name}`, `one of ${choices.join(', ')}`, value);
  }
  return value as T;
}
