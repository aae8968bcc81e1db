/** The README example runs (against src) and writes a complete export. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import * as path from 'node:path';
import * as int8 from '@tinyblocks/int8';
import { describe, expect, it } from 'vitest';
import * as lib from './index.js';

const MODULES: Record<string, unknown> = { '@tinyblocks/export-c': lib, '@tinyblocks/int8': int8, 'node:fs': fs, 'node:os': os, 'node:path': path };

describe('README', () => {
  it('the example runs and writes the export folder', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(readme)![1]!;
    const body = code.replace(/import \{([\s\S]*?)\} from '([^']+)';/g, (_m, names: string, mod: string) => {
      expect(Object.keys(MODULES)).toContain(mod);
      return `const {${names}} = modules[${JSON.stringify(mod)}];`;
    });
    expect(body).not.toContain('import ');
    const logs: unknown[][] = [];
    new Function('modules', 'console', body)(MODULES, { log: (...a: unknown[]) => logs.push(a) });
    const [dir, count, totals] = logs[0] as [string, number, { flashDataBytes: number; macs: number }];
    try {
      expect(existsSync(join(dir, 'demo_model.c'))).toBe(true);
      expect(existsSync(join(dir, 'report.json'))).toBe(true);
      expect(count).toBeGreaterThan(6);
      expect(totals.macs).toBe(12);
      expect(totals.flashDataBytes).toBe(12 + 3 * 4 * 3); // weights + bias, multipliers, shifts
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });
});
