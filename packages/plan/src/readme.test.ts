/** The README example runs (against src) and prints a valid plan no larger than greedy-by-size. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as lib from './index.js';

describe('README', () => {
  it('the example runs: c reuses a, arena <= greedy-by-size, >= lower bound', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(readme)![1]!;
    const body = code.replace(/import \{([\s\S]*?)\} from '@tinyblocks\/plan';/, 'const {$1} = lib;');
    expect(body).not.toContain('import ');
    const logs: unknown[][] = [];
    new Function('lib', 'console', body)(lib, { log: (...a: unknown[]) => logs.push(a) });
    expect(logs).toHaveLength(1);
    const [offsets, arena, greedy, lower] = logs[0] as [number[], number, number, number];
    expect(offsets[0]).toBe(offsets[2]);
    expect(arena).toBeLessThanOrEqual(greedy);
    expect(arena).toBeGreaterThanOrEqual(lower);
    expect(arena).toBe(3072 + 1024);
  });
});
