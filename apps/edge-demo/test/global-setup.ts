/**
 * Builds the app once (vite build, which also runs `tinyblocks export` for the report and the int8
 * graph) and serves dist/ on 127.0.0.1 for every browser test. EDGE_DEMO_SKIP_BUILD=1 serves the
 * existing build.
 */
import type { TestProject } from 'vitest/node';
// @ts-expect-error plain ESM helper without types
import { build, startServer } from '../serve.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!process.env['EDGE_DEMO_SKIP_BUILD']) build();
  const server = (await startServer({ port: 0 })) as { url: string; close: () => Promise<void> };
  project.provide('baseUrl', server.url);
  return () => server.close();
}
