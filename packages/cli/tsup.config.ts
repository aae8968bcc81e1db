import { defineConfig } from 'tsup';
import { library } from '@tinyblocks/tsconfig/tsup';

export default defineConfig([
  library(['src/index.ts']) as object,
  { entry: ['src/bin.ts'], format: ['esm'], sourcemap: true, target: 'es2022', banner: { js: '#!/usr/bin/env node' } },
]);
