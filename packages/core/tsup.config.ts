import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // tfjs-core's own gradient and chained-op registrations are shipped as extensionless ESM
  // that plain Node cannot import, and its CommonJS bundle leaves them out. Bundle them here
  // (as tfjs-layers does); tfjs keeps engine and registries global, so the copy shares them.
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
});
