/** The README example runs (against src): the BatchNorm is folded and int8 tracks float. */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as core from '@tinyblocks/core';
import * as int8 from '@tinyblocks/int8';
import { describe, expect, it } from 'vitest';
import * as lib from './index.js';

const MODULES: Record<string, unknown> = {
  '@tensorflow/tfjs-core': tf, '@tensorflow/tfjs-layers': tfl, '@tinyblocks/core': core, '@tinyblocks/int8': int8, '@tinyblocks/quantize': lib,
};

describe('README', () => {
  it('the example runs', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(readme)![1]!;
    const body = toBody(code);
    const logs: unknown[][] = [];
    await new AsyncFunction('modules', 'console', body)(MODULES, { log: (...a: unknown[]) => logs.push(a) });
    expect(logs[0]![0]).toBe('conv2d -> reshape -> dense');
    const [int8Out, floatOut] = logs[1] as [number[], number[]];
    for (let i = 0; i < 3; i++) expect(Math.abs(int8Out[i]! - floatOut[i]!)).toBeLessThan(0.1);
  });

  it('the own-layer example runs: a user layer lowered through registerLowering, tracking float', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = [...readme.matchAll(/```js\n([\s\S]*?)```/g)][1]![1]!;
    const logs: unknown[][] = [];
    await new AsyncFunction('modules', 'console', toBody(code))(MODULES, { log: (...a: unknown[]) => logs.push(a) });
    expect(logs[0]![0]).toBe('lut -> dense');
    expect(logs[1]![0]).toBeGreaterThanOrEqual(0.9);
  });
});

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;

function toBody(code: string): string {
  const body = code
    .replace(/import \* as (\w+) from '([^']+)';/g, (_m, name: string, mod: string) => `const ${name} = modules[${JSON.stringify(mod)}];`)
    .replace(/import \{([\s\S]*?)\} from '([^']+)';/g, (_m, names: string, mod: string) => `const {${names}} = modules[${JSON.stringify(mod)}];`);
  expect(body).not.toContain('import ');
  return body;
}
