/**
 * Debian's Chromium driven by playwright-core against the built page on 127.0.0.1. Every request
 * that would leave localhost is recorded and aborted (the page must work offline). Locally, a
 * missing Chromium skips the browser tests with what to install; under CI=true it fails.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, inject } from 'vitest';
import type { PageState } from '../src/state.js';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const OUT = join(import.meta.dirname, '..', 'test-output');

const HAS_CHROMIUM = existsSync(CHROMIUM);
export const SKIP = !HAS_CHROMIUM && process.env['CI'] !== 'true';
if (SKIP) console.warn(`[edge-demo] no Chromium at ${CHROMIUM}: skipping the browser tests (apt-get install --no-install-recommends chromium)`);

export interface DemoPage {
  browser: Browser;
  page: Page;
  /** Requests to anything but 127.0.0.1 / localhost (aborted). */
  offHost: string[];
  /** Every URL the page requested. */
  requests: string[];
  pageErrors: string[];
  state(): Promise<PageState>;
  /** Waits until `predicate(window.__tinyblocks)` holds (a function body over `s`). */
  until(predicate: string, timeout?: number): Promise<PageState>;
  close(): Promise<void>;
}

export async function openDemo(options: { query?: string; route?: (url: URL) => 'continue' | 'abort' } = {}): Promise<DemoPage> {
  if (!HAS_CHROMIUM) throw new Error(`CI=true and no Chromium at ${CHROMIUM}: apt-get install --no-install-recommends chromium`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const offHost: string[] = [];
  const requests: string[] = [];
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    requests.push(url.href);
    const local = ['127.0.0.1', 'localhost'].includes(url.hostname) && url.protocol === 'http:';
    if (!local && url.protocol !== 'data:' && url.protocol !== 'blob:') {
      offHost.push(url.href);
      return route.abort();
    }
    return options.route?.(url) === 'abort' ? route.abort() : route.continue();
  });
  const state = () => page.evaluate(() => JSON.parse(JSON.stringify(window.__tinyblocks)) as PageState);
  const until = async (predicate: string, timeout = 60_000) => {
    await page.waitForFunction(`(() => { const s = window.__tinyblocks; return !!s && (s.error !== null || (${predicate})); })()`, null, { timeout });
    const s = await state();
    if (s.error !== null && !predicate.includes('error')) throw new Error(`the page failed: ${s.error}`);
    return s;
  };
  await page.goto(inject('baseUrl') + (options.query ?? ''));
  return { browser, page, offHost, requests, pageErrors, state, until, close: () => browser.close() };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * One page for a test file: opened before its tests (once `ready`, a predicate over `s`, holds)
 * and closed after them. Returns a getter, since the page exists only once beforeAll ran.
 */
export function demoPage(ready: string): () => DemoPage {
  let demo: DemoPage | undefined;
  beforeAll(async () => {
    if (SKIP) return;
    demo = await openDemo();
    await demo.until(ready, 90_000);
  }, 180_000);
  afterAll(() => demo?.close());
  return () => demo!;
}
