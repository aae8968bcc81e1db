/**
 * Memory budgets: board presets and the check that runs before any C is built. A model that
 * does not fit fails with a BudgetError saying by how many bytes and which layer sets the peak.
 */
import { ConfigError, TinyblocksError } from '@tinyblocks/core/base';

export const CORES = ['cortex-m0', 'cortex-m3', 'cortex-m4', 'cortex-m7', 'cortex-m55'] as const;
export type Core = (typeof CORES)[number];

export interface Board {
  name: string;
  core: Core;
  sramBytes: number;
  flashBytes: number;
  description: string;
}

const KB = 1024;

/** Budget presets of boards users target (mcu.md). */
export const BOARDS: Readonly<Record<string, Board>> = {
  stm32f746: { name: 'stm32f746', core: 'cortex-m7', sramBytes: 320 * KB, flashBytes: 1024 * KB, description: 'STM32F746 (Cortex-M7, 320 KB SRAM, 1 MB flash)' },
  stm32f412: { name: 'stm32f412', core: 'cortex-m4', sramBytes: 256 * KB, flashBytes: 1024 * KB, description: 'STM32F412 (Cortex-M4, 256 KB SRAM, 1 MB flash)' },
  nrf52840: { name: 'nrf52840', core: 'cortex-m4', sramBytes: 256 * KB, flashBytes: 1024 * KB, description: 'nRF52840 / Arduino Nano 33 BLE (Cortex-M4F, 256 KB SRAM, 1 MB flash)' },
  tiny64k: { name: 'tiny64k', core: 'cortex-m4', sramBytes: 64 * KB, flashBytes: 256 * KB, description: 'a small part: 64 KB SRAM, 256 KB flash (Cortex-M4)' },
};

/** The BOARDS entry by name; ConfigError listing the presets otherwise. */
export function boardPreset(name: string): Board {
  const b = typeof name === 'string' && Object.hasOwn(BOARDS, name) ? BOARDS[name] : undefined;
  if (!b) throw new ConfigError({ op: 'board' }, '--board', `one of ${Object.keys(BOARDS).join(', ')}`, name);
  return b;
}

/** '64k', '256K', '1m', '1.5M', '65536' -> bytes (k = 1024). */
export function parseBytes(text: string, field: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)[bB]?\s*$/.exec(String(text));
  if (!m) throw new ConfigError({ op: 'budget' }, field, "a size like 65536, 64k or 1m", text);
  const n = Number(m[1]) * (m[2]!.toLowerCase() === 'k' ? KB : m[2]!.toLowerCase() === 'm' ? KB * KB : 1);
  if (!Number.isFinite(n) || n < 1) throw new ConfigError({ op: 'budget' }, field, 'a size of at least 1 byte', text);
  return Math.floor(n);
}

export interface Budget {
  sramBytes?: number;
  flashBytes?: number;
  /** Where the budget comes from, for messages: '--board tiny64k' or '--sram 64k'. */
  source: string;
}

export interface Footprint {
  /** Model name, for messages. */
  name: string;
  /** Activation arena bytes. */
  arenaBytes: number;
  /** Stream state bytes (delta layers). */
  stateBytes: number;
  /** Constant data bytes (weights, biases, multipliers, tables). */
  flashDataBytes: number;
  /** Live bytes per node (from planArena). */
  perNode: ReadonlyArray<{ index: number; node: string; liveBytes: number }>;
  /** op per node index, for the message. */
  ops?: readonly string[];
}

/** A model that does not fit its memory budget. */
export class BudgetError extends TinyblocksError {}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The node with the most live bytes (first on ties). */
export function peakNode(fp: Footprint): { index: number; node: string; liveBytes: number } {
  return fp.perNode.reduce((best, n) => (n.liveBytes > best.liveBytes ? n : best), fp.perNode[0] ?? { index: -1, node: '(none)', liveBytes: 0 });
}

/**
 * Throws a BudgetError when the footprint exceeds the budget. SRAM = arena + stream state; flash
 * = constant data (code is measured at link time, where an overflow also fails).
 */
export function checkBudget(fp: Footprint, budget: Budget): void {
  const sram = fp.arenaBytes + fp.stateBytes;
  if (budget.sramBytes !== undefined && sram > budget.sramBytes) {
    const p = peakNode(fp);
    const op = fp.ops?.[p.index] ? ` (${fp.ops[p.index]})` : '';
    throw new BudgetError(
      { op: fp.name },
      'SRAM',
      `at most ${fmt(budget.sramBytes)} bytes (${budget.source})`,
      `${fmt(sram)} bytes`,
      `${fmt(sram - budget.sramBytes)} bytes over; the peak is set by node ${p.index} ${p.node}${op}: ${fmt(p.liveBytes)} bytes of activations live, plus ${fmt(fp.stateBytes)} bytes of stream state`,
    );
  }
  if (budget.flashBytes !== undefined && fp.flashDataBytes > budget.flashBytes) {
    throw new BudgetError(
      { op: fp.name },
      'flash',
      `at most ${fmt(budget.flashBytes)} bytes (${budget.source})`,
      `${fmt(fp.flashDataBytes)} bytes of weights and tables`,
      `${fmt(fp.flashDataBytes - budget.flashBytes)} bytes over before any code`,
    );
  }
}
