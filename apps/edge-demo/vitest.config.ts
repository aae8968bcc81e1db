import { defineConfig } from 'vitest/config';

// One production build and one static server for every test file (test/global-setup.ts); the
// files run one after another so each page's timings are not skewed by another Chromium.
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
