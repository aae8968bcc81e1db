import { defineConfig } from 'tsup';

/**
 * The build every published tinyblocks package uses: ESM + CommonJS + .d.ts from src/index.ts
 * (or the given entries), with `import.meta.url` shimmed in the CommonJS build.
 * @param {string[]} [entry]
 * @param {import('tsup').Options} [extra]
 */
export function library(entry = ['src/index.ts'], extra = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    shims: true,
    ...extra,
  });
}
