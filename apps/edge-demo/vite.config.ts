import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/**
 * Static assets the page fetches at run time, copied from the packages that ship them:
 *   model/model.json, model/weights.bin  <- @tinyblocks/models (model/reference)
 *   data/t10k-*.gz                       <- @tinyblocks/datasets (data/fashion-mnist-subset)
 * Served by the dev server and emitted into dist by the build.
 */
const require = createRequire(import.meta.url);
const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
const ASSETS: Record<string, string> = {};
const modelDir = join(pkgDir('@tinyblocks/models'), 'model', 'reference');
for (const f of ['model.json', 'weights.bin']) ASSETS[`model/${f}`] = join(modelDir, f);
const subsetDir = join(pkgDir('@tinyblocks/datasets'), 'data', 'fashion-mnist-subset');
for (const f of readdirSync(subsetDir).filter((f) => f.startsWith('t10k-'))) ASSETS[`data/${f}`] = join(subsetDir, f);

function shippedAssets(): Plugin {
  return {
    name: 'tinyblocks-shipped-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const file = ASSETS[(req.url ?? '').split('?')[0]!.replace(/^\//, '')];
        if (!file) return next();
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(readFileSync(file));
      });
    },
    generateBundle() {
      for (const [fileName, file] of Object.entries(ASSETS)) {
        this.emitFile({ type: 'asset', fileName, source: readFileSync(file) });
      }
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [shippedAssets()],
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
});
