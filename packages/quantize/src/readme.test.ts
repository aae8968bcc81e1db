/** The README example runs (against src) and prints what it claims. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as lib from './index.js';

describe('README', () => {
  it('the example runs and the int8 results are close to float', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(readme)![1]!;
    const body = code.replace(/import \{([\s\S]*?)\} from '@tinyblocks\/quantize';/, 'const {$1} = lib;');
    expect(body).not.toContain('import ');
    const logs: unknown[][] = [];
    new Function('lib', 'console', body)(lib, { log: (...a: unknown[]) => logs.push(a) });
    expect(logs).toHaveLength(2);
    const [, , , real, , float] = logs[0] as [string, number, string, number, string, number];
    expect(Math.abs(real - float)).toBeLessThan(8 / 255); // within one output step
    expect(Math.abs((logs[1]![1] as number) - 2.375)).toBeLessThan(0.05);
  });
});
