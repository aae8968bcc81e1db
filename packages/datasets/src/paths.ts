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

function packageJsonName(file: string): string | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')).name;
  } catch {
    return undefined;
  }
}

/**
 * The directory holding the package.json named `name`, walking up from the module at
 * `moduleUrl` (pass `import.meta.url`). For packages that ship files next to their code.
 */
export function findPackageRoot(name: string, moduleUrl: string): string {
  const start = path.dirname(fileURLToPath(moduleUrl));
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (packageJsonName(path.join(dir, 'package.json')) === name) return dir;
    if (path.dirname(dir) === dir) break;
  }
  throw new DataError(
    { file: start },
    'package root',
    `a parent directory with the package.json of ${name}`,
    'none found',
    'was the package bundled? copy its shipped files and pass their directory explicitly',
  );
}

let cachedRoot: string | undefined;

/** The directory holding this package's package.json. */
export function packageRoot(): string {
  return (cachedRoot ??= findPackageRoot(PACKAGE_NAME, import.meta.url));
}

/** The shipped data directory (`<package>/data`). */
export function dataDir(): string {
  return path.join(packageRoot(), 'data');
}
