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
    const m = /'([^']+)'/.exec(e.message);
    throw new ConfigError({ op: `tinyblocks ${command}` }, m?.[1] ?? 'arguments', `one of ${Object.keys(options).map((o) => `--${o}`).join(', ')}`, e.message);
  }
}

export function intOption(command: string, name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ConfigError({ op: `tinyblocks ${command}` }, `--${name}`, `an integer >= ${min}`, value);
  return n;
}

export function numberOption(command: string, name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ConfigError({ op: `tinyblocks ${command}` }, `--${name}`, 'a number', value);
  return n;
}

export function choiceOption<T extends string>(command: string, name: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new ConfigError({ op: `tinyblocks ${command}` }, `--${name}`, `one of ${choices.join(', ')}`, value);
  }
  return value as T;
}
