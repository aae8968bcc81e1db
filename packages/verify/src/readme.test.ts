/** The README example runs (against src): export, verify bit-exact, bench. */
import * as fs from 'node:fs';
import { readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as exportC from '@tinyblocks/export-c';
import * as int8 from '@tinyblocks/int8';
import { requireCompiler, SKIP_C } from '@tinyblocks/testkit/c';
import { describe, expect, it } from 'vitest';
import * as lib from './index.js';

// the example's tmpdir() is a folder of this test's own, removed afterwards
const own = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-verify-readme-'));
const MODULES: Record<string, unknown> = { '@tinyblocks/verify': lib, '@tinyblocks/export-c': exportC, '@tinyblocks/int8': int8, 'node:fs': fs, 'node:os': { ...os, tmpdir: () => own }, 'node:path': path };
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<unknown>;

describe.skipIf(SKIP_C)('README', () => {
  it('the example exports, verifies 8/8 bit-exact and benchmarks', async () => {
    requireCompiler();
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(readme)![1]!;
    const body = code.replace(/import \{([\s\S]*?)\} from '([^']+)';/g, (_m, names: string, mod: string) => {
      expect(Object.keys(MODULES)).toContain(mod);
      return `const {${names}} = modules[${JSON.stringify(mod)}];`;
    });
    expect(body).not.toContain('import ');
    const logs: unknown[][] = [];
    try {
      await new AsyncFunction('modules', 'console', body)(MODULES, { log: (...a: unknown[]) => logs.push(a) });
      expect(fs.existsSync(path.join(fs.readdirSync(own).map((d) => path.join(own, d))[0]!, 'mlp', 'mlp_model.c'))).toBe(true);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
    expect(logs[0]).toEqual(['verify host: 8/8 bit-exact']);
    expect(logs[1]![0]).toBeGreaterThan(0);
    expect(logs[1]![1]).toBe('inferences/s');
  });
});
