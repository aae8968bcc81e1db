/**
 * Writing an export folder atomically (core's writeDirAtomic: a temporary sibling renamed into
 * place), so a failure never leaves a half-written folder. An existing folder is replaced only
 * when it is empty or holds a previous export (its report.json says so): a user's unrelated
 * folder is never deleted.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '@tinyblocks/core/base';
import { writeDirAtomic } from '@tinyblocks/core/node';
import { EXPORT_REPORT_FORMAT } from './report.js';

const FILE_NAME = /^(?!\.{1,2}$)[A-Za-z0-9_.-]+$/;

function isPreviousExport(dir: string): boolean {
  const file = join(dir, 'report.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown })?.format === EXPORT_REPORT_FORMAT;
  } catch {
    return false;
  }
}

/** Writes `generated.files` into `outDir` (all or nothing); returns the absolute folder path. */
export function writeExport(outDir: string, generated: { files: Record<string, string> }): string {
  const where = { op: 'writeExport' };
  if (typeof outDir !== 'string' || outDir === '') throw new ConfigError(where, 'outDir', 'a folder path', outDir);
  const files = generated?.files;
  if (!files || typeof files !== 'object') throw new ConfigError(where, 'generated.files', 'the files of generateC()', files);
  if (!('report.json' in files)) throw new ConfigError(where, 'generated.files', 'a generateC() result (with report.json)', Object.keys(files));
  for (const name of Object.keys(files)) {
    if (!FILE_NAME.test(name)) throw new ConfigError(where, 'generated.files', 'plain file names (letters, digits, _ . -)', name);
  }
  const dir = resolve(outDir);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new ConfigError({ file: dir }, 'outDir', 'a folder (or a path that does not exist yet)', 'an existing file');
    const entries = readdirSync(dir);
    if (entries.length > 0 && !isPreviousExport(dir)) {
      throw new ConfigError(
        { file: dir },
        'outDir',
        'a new or empty folder, or a previous tinyblocks C export (with its report.json)',
        `a folder with ${entries.length} other entr${entries.length === 1 ? 'y' : 'ies'} (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''})`,
        'choose another folder or remove it yourself',
      );
    }
  }
  writeDirAtomic(dir, files);
  return dir;
}
