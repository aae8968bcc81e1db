import { library } from '@tinyblocks/tsconfig/tsup';

export default library(['src/index.ts', 'src/base.ts', 'src/node.ts'], {
  // one copy of shared modules (the error classes) across entries in CommonJS too, so
  // `instanceof ConfigError` holds whichever entry a class came from
  splitting: true,
  // tfjs-core's own gradient and chained-op registrations are shipped as extensionless ESM
  // that plain Node cannot import, and its CommonJS bundle leaves them out. Bundle them here
  // (as tfjs-layers does); tfjs keeps engine and registries global, so the copy shares them.
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
});
