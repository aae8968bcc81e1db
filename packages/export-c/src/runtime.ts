/**
 * The portable C runtime shipped with every export: `tb_fixed_point.h` plus the headers the used
 * ops name (`OpDef.runtime`), each header's matching `.c` when there is one, and whatever those
 * files `#include "..."` in turn (transitively). Read from the installed @tinyblocks/int8 package.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError } from '@tinyblocks/core/base';

/** Folder of @tinyblocks/int8's C runtime (works from src and from the ESM and CJS builds). */
export function runtimeDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tinyblocks/int8/package.json')), 'runtime');
}

/** File name -> contents, sorted by name; DataError naming a missing file. */
export function collectRuntime(headers: readonly string[], dir = runtimeDir(), sources: Readonly<Record<string, string>> = {}): Record<string, string> {
  const found = new Map<string, string>();
  const queue = ['tb_fixed_point.h', ...headers];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (found.has(name)) continue;
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new DataError({ file: join(dir, name) }, 'runtime', 'a plain file name in the runtime folder', name);
    const file = join(dir, name);
    const own = Object.hasOwn(sources, name); // a registered op's own C file
    if (!own && !existsSync(file)) throw new DataError({ file }, 'runtime', 'a C runtime file of @tinyblocks/int8 (or of a registered op)', 'no such file');
    const text = own ? sources[name]! : readFileSync(file, 'utf8');
    found.set(name, text);
    for (const m of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) queue.push(m[1]!);
    if (name.endsWith('.h')) {
      const c = name.slice(0, -2) + '.c';
      if (Object.hasOwn(sources, c) || existsSync(join(dir, c))) queue.push(c);
    }
  }
  return Object.fromEntries([...found.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}
