import { defineConfig, type Plugin } from 'vite';
import { shippedAssets } from './assets.js';

/** Serves (dev) and emits (build) the model, data and export report the page fetches: assets.ts. */
function tinyblocksAssets(): Plugin {
  let assets: Record<string, Buffer> | undefined;
  const get = () => (assets ??= shippedAssets());
  return {
    name: 'tinyblocks-shipped-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const file = get()[(req.url ?? '').split('?')[0]!.replace(/^\//, '')];
        if (!file) return next();
        const ext = (req.url ?? '').split('?')[0]!.split('.').pop();
        res.setHeader('Content-Type', ext === 'json' ? 'application/json' : ext === 'wasm' ? 'application/wasm' : 'application/octet-stream');
        res.end(file);
      });
    },
    generateBundle() {
      for (const [fileName, source] of Object.entries(get())) this.emitFile({ type: 'asset', fileName, source });
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [tinyblocksAssets()],
  build: { target: 'es2022', chunkSizeWarningLimit: 4000 },
});
