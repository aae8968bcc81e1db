/**
 * Where the shipped data lives: `data/` next to this package's package.json. Found by walking up
 * from this module's file, so it works from src (vitest), dist (ESM and CJS, tsup shims
 * import.meta.url in CJS) and an installed tarball.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from '@tinyblocks/core/base';

export const PACKAGE_NAME = '@tinyblocks/datasets';

function isOurPackageJson(file: string): boolean {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

let cachedRoot: string | undefined;

/** The directory holding this package's package.json. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (isOurPackageJson(path.join(dir, 'package.json'))) return (cachedRoot = dir);
    if (path.dirname(dir) === dir) break;
  }
  throw new DataError(
    { file: start },
    'package root',
    `a parent directory with the package.json of ${PACKAGE_NAME}`,
    'none found',
    'was the package bundled? copy its data/ directory and pass it as `dir`',
  );
}

/** The shipped data directory (`<package>/data`). */
export function dataDir(): string {
  return path.join(packageRoot(), 'data');
}
