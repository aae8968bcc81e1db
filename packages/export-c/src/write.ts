/**
 * Writing an export folder with core's writeOutDir: files staged inside the folder and renamed
 * into place (a failure leaves the previous export whole), listed with their SHA-256 in
 * tinyblocks-manifest.json. An existing folder is written into only when it is empty or holds a
 * previous C export (its manifest says so, not a report.json anyone can fake); files the user
 * added to it are kept, files of ours the user changed make it refuse (unless `force`). The
 * cheap check before any work is core's checkOutDir with `kind: EXPORT_KIND`.
 */
import { ConfigError } from '@tinyblocks/core/base';
import { writeOutDir } from '@tinyblocks/core/node';

export const EXPORT_KIND = 'c-export';
const FILE_NAME = /^(?!\.{1,2}$)[A-Za-z0-9_.-]+$/;

export interface WriteExportOptions {
  /** Overwrite files of a previous export that the user changed (files the user added are always kept). */
  force?: boolean;
}

/** Writes `generated.files` into `outDir` (see above); returns the absolute folder path. */
export function writeExport(outDir: string, generated: { files: Record<string, string> }, options: WriteExportOptions = {}): string {
  const where = { op: 'writeExport' };
  if (typeof outDir !== 'string' || outDir === '') throw new ConfigError(where, 'outDir', 'a folder path', outDir);
  const files = generated?.files;
  if (!files || typeof files !== 'object') throw new ConfigError(where, 'generated.files', 'the files of generateC()', files);
  if (!('report.json' in files)) throw new ConfigError(where, 'generated.files', 'a generateC() result (with report.json)', Object.keys(files));
  for (const name of Object.keys(files)) {
    if (!FILE_NAME.test(name)) throw new ConfigError(where, 'generated.files', 'plain file names (letters, digits, _ . -)', name);
  }
  return writeOutDir(outDir, files, { kind: EXPORT_KIND, ...(options.force ? { force: true } : {}) }).dir;
}
