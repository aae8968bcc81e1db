/**
 * Exit rules, decided per sample on that exit's softmax probabilities p:
 *   confidence (SDN):       exit if max_k p_k >= threshold   (0 exits everything, > 1 nothing)
 *   entropy (BranchyNet):   exit if -sum_k p_k ln p_k < threshold   (natural log, not normalised)
 * The last exit takes every sample still running, whatever the rule says.
 */
import { ConfigError, requireFiniteNumber } from '@tinyblocks/core';

export const EXIT_RULES = ['confidence', 'entropy'] as const;
export type ExitRuleName = (typeof EXIT_RULES)[number];

export interface ExitRuleOptions {
  rule: ExitRuleName;
  threshold: number;
}

export interface ExitRule {
  /** true when a sample with these probabilities exits here. */
  (probabilities: ArrayLike<number>): boolean;
  readonly rule: ExitRuleName;
  readonly threshold: number;
}

export function maxProbability(p: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < p.length; i++) m = Math.max(m, p[i]!);
  return m;
}

export function entropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) h -= p[i]! * Math.log(p[i]!);
  return h;
}

export function exitRule(options: ExitRuleOptions): ExitRule {
  const where = { op: 'exitRule' };
  const rule = options?.rule;
  if (!(EXIT_RULES as readonly unknown[]).includes(rule)) {
    throw new ConfigError(where, 'rule', `one of ${EXIT_RULES.map((r) => `'${r}'`).join(', ')}`, rule);
  }
  const threshold = requireFiniteNumber(where, 'threshold', options.threshold);
  const decide =
    rule === 'confidence'
      ? (p: ArrayLike<number>) => maxProbability(p) >= threshold
      : (p: ArrayLike<number>) => entropy(p) < threshold;
  return Object.assign(decide, { rule, threshold });
}
