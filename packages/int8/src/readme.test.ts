/** The README example runs (against src) and shows what it claims. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as lib from './index.js';

describe('README', () => {
  it('the example runs: streaming skips MACs and equals a fresh run', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(readme)![1]!;
    const body = code.replace(/import \{([\s\S]*?)\} from '@tinyblocks\/int8';/, 'const {$1} = lib;');
    expect(body).not.toContain('import ');
    const logs: unknown[][] = [];
    new Function('lib', 'console', body)(lib, { log: (...a: unknown[]) => logs.push(a) });
    const [, freshMacs, streamed, streamedMacs, freshNext] = logs[0] as [number[], number, number[], number, number[]];
    expect(streamedMacs).toBe(3);
    expect(freshMacs).toBeGreaterThan(streamedMacs);
    expect(streamed).toEqual(freshNext);
  });
});
