/**
 * Output folders people own. Every command that writes (`export`, `train`, `qat`,
 * `retrain-exits`) goes through `writeOutDir`, which never deletes or changes a file it did not
 * write:
 *
 * - a folder that does not exist is created (with the usual mode, from the umask);
 * - an empty folder is written into;
 * - a folder holding a previous output of the same kind is updated: what tinyblocks wrote is
 *   recorded in `tinyblocks-manifest.json` (names, sizes, SHA-256), so files it wrote and nobody
 *   changed are replaced or removed, files the user added are kept, and files the user changed
 *   make it refuse (with their names) unless `force`;
 * - anything else is refused, before any work starts (`checkOutDir` is cheap; call it first).
 *
 * The folder itself is never replaced: its mode, owner and a symlink pointing at it stay as they
 * are. Files are written into a staging folder inside it and renamed into place, so a failure
 * while writing leaves the previous output whole.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DataError } from './errors.js';
import { fsError, isFsError, readFileBounded } from './files.js';

export const OUTPUT_MANIFEST = 'tinyblocks-manifest.json';
export const OUTPUT_MANIFEST_FORMAT = 'tinyblocks-output/1';
const STAGING_PREFIX = '.tinyblocks-staging-';
const FILE_NAME = /^(?!\.{1,2}$)[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const MAX_NAME = 200;

export interface OutputManifest {
  format: typeof OUTPUT_MANIFEST_FORMAT;
  /** What the folder holds: 'model' (model.json + weights) or 'c-export'. */
  kind: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

export interface OutDirOptions {
  /** What this command writes: 'model' or 'c-export' (a folder of another kind is refused). */
  kind: string;
  /** Where the path came from, for messages (default '--out'). */
  flag?: string;
  /** Overwrite files of a previous output the user has changed (never files the user added). */
  force?: boolean;
}

export interface OutDirState {
  /** The folder written into (symlinks resolved). */
  dir: string;
  exists: boolean;
  previous: OutputManifest | undefined;
  /** Entries the user put there (kept as they are). */
  userFiles: string[];
  /** Files of the previous output the user changed (only with force: overwritten, or kept when not written again). */
  changed: string[];
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

function listing(names: string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

/** Reads a folder's manifest (undefined when it has none); a corrupt one is a DataError. */
export function readOutputManifest(dir: string): OutputManifest | undefined {
  const file = path.join(dir, OUTPUT_MANIFEST);
  if (!fs.existsSync(file)) return undefined;
  const text = readFileBounded(file, { what: 'a tinyblocks output manifest', maxBytes: 1 << 20 }).toString('utf8');
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new DataError({ file }, 'contents', 'valid JSON', (err as Error).message.slice(0, 120));
  }
  const o = m as Partial<OutputManifest> | null;
  if (!o || typeof o !== 'object' || o.format !== OUTPUT_MANIFEST_FORMAT) throw new DataError({ file }, 'format', `"${OUTPUT_MANIFEST_FORMAT}"`, o && typeof o === 'object' ? o.format : o);
  if (typeof o.kind !== 'string') throw new DataError({ file }, 'kind', 'a string', o.kind);
  if (!o.files || typeof o.files !== 'object' || Array.isArray(o.files)) throw new DataError({ file }, 'files', 'an object of file entries', o.files);
  for (const [name, e] of Object.entries(o.files)) {
    if (!FILE_NAME.test(name) || name.length > MAX_NAME) throw new DataError({ file }, 'files', 'plain file names', name);
    if (!e || typeof e.sha256 !== 'string' || !Number.isInteger(e.bytes)) throw new DataError({ file }, `files.${name}`, '{ bytes, sha256 }', e);
  }
  return o as OutputManifest;
}

/** Files of a previous output that are no longer what tinyblocks wrote. */
export function changedFiles(dir: string, manifest: OutputManifest): string[] {
  return Object.entries(manifest.files)
    .filter(([name, e]) => {
      const file = path.join(dir, name);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(file);
      } catch {
        return false; // removed by the user: nothing to lose
      }
      if (!st.isFile() || st.size !== e.bytes) return true;
      return sha256(fs.readFileSync(file)) !== e.sha256;
    })
    .map(([name]) => name);
}

/** Nearest existing ancestor of `p` (for the writability check of a folder still to create). */
function existingAncestor(p: string): string {
  let cur = p;
  while (!fs.existsSync(cur)) {
    const up = path.dirname(cur);
    if (up === cur) return cur;
    cur = up;
  }
  return cur;
}

/**
 * Checks that `outDir` can take this command's output without losing anything; `names` (when
 * known) are the files about to be written. Throws a ConfigError naming the folder otherwise.
 */
export function checkOutDir(outDir: string, options: OutDirOptions, names?: readonly string[]): OutDirState {
  const flag = options.flag ?? '--out';
  if (typeof outDir !== 'string' || outDir.trim() === '') throw new ConfigError({ op: 'output' }, flag, 'a folder path', outDir);
  if (outDir.includes('\0')) throw new ConfigError({ op: 'output' }, flag, 'a folder path', 'a path with a NUL byte');
  const resolved = path.resolve(outDir);
  for (const part of resolved.split(path.sep)) {
    if (Buffer.byteLength(part) > 255) throw new ConfigError({ file: `${resolved.slice(0, 80)}…` }, flag, 'path components of at most 255 bytes', `${Buffer.byteLength(part)} bytes`);
  }
  for (const n of names ?? []) {
    if (!FILE_NAME.test(n) || n.length > MAX_NAME) throw new ConfigError({ file: resolved }, 'file name', `plain file names of at most ${MAX_NAME} characters (letters, digits, _ . -)`, n.length > 60 ? `${n.slice(0, 60)}… (${n.length} characters)` : n);
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(resolved);
  } catch (err) {
    if (!isFsError(err) || (err.code !== 'ENOENT')) {
      if (isFsError(err) && err.code === 'ENOTDIR') throw new ConfigError({ file: resolved }, flag, 'a folder, or a path that does not exist yet', 'a path through a file');
      throw isFsError(err) ? fsError(err, resolved, 'a folder to write into') : err;
    }
  }
  if (!st) {
    const anc = existingAncestor(path.dirname(resolved));
    if (!fs.statSync(anc).isDirectory()) throw new ConfigError({ file: resolved }, flag, 'a folder, or a path that does not exist yet', `a path through the file ${anc}`);
    writable(anc, flag);
    return { dir: resolved, exists: false, previous: undefined, userFiles: [], changed: [] };
  }
  if (!st.isDirectory()) throw new ConfigError({ file: resolved }, flag, 'a folder, or a path that does not exist yet', 'an existing file');
  const dir = fs.realpathSync(resolved); // a symlinked --out: write where it points, keep the link
  writable(dir, flag);
  const entries = fs.readdirSync(dir).filter((e) => !e.startsWith(STAGING_PREFIX));
  const previous = readOutputManifest(dir);
  if (!previous) {
    if (entries.length === 0) return { dir, exists: true, previous, userFiles: [], changed: [] };
    throw new ConfigError(
      { file: resolved }, flag,
      `an empty folder, a new path, or a previous tinyblocks ${options.kind} output (with its ${OUTPUT_MANIFEST})`,
      `a folder with ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} tinyblocks did not write (${listing(entries)})`,
      'nothing was written; choose another folder',
    );
  }
  if (previous.kind !== options.kind) {
    throw new ConfigError({ file: resolved }, flag, `an empty folder, a new path, or a previous tinyblocks ${options.kind} output`, `a folder holding a tinyblocks ${previous.kind} output`, 'nothing was written; choose another folder');
  }
  const userFiles = entries.filter((e) => e !== OUTPUT_MANIFEST && !(e in previous.files));
  const clash = userFiles.filter((e) => names?.includes(e));
  if (clash.length > 0 && !options.force) {
    throw new ConfigError({ file: resolved }, flag, 'no file of yours where tinyblocks writes', `your ${listing(clash)}`, 'nothing was written; move them, or pass --force to overwrite them');
  }
  const changed = changedFiles(dir, previous);
  if (changed.length > 0 && !options.force) {
    throw new ConfigError({ file: resolved }, flag, 'the previous output unchanged', `changed since tinyblocks wrote them: ${listing(changed)}`, 'nothing was written; copy your changes elsewhere, or pass --force to overwrite them');
  }
  return { dir, exists: true, previous, userFiles: userFiles.filter((e) => !clash.includes(e)), changed };
}

function writable(dir: string, flag: string): void {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    if (isFsError(err)) throw new ConfigError({ file: dir }, flag, 'a folder you can write to', err.code === 'EROFS' ? 'a read-only file system' : 'no write permission');
    throw err;
  }
}

export interface WriteResult {
  dir: string;
  written: string[];
  /** Files the user had added, left as they were. */
  kept: string[];
  /** Files of the previous output that this one no longer has (removed). */
  removed: string[];
}

/** Writes `files` (flat names) into `outDir` as described above; returns what it did. */
export function writeOutDir(outDir: string, files: Record<string, string | Uint8Array>, options: OutDirOptions): WriteResult {
  const names = Object.keys(files);
  if (names.includes(OUTPUT_MANIFEST)) throw new ConfigError({ op: 'writeOutDir' }, 'files', `names other than ${OUTPUT_MANIFEST}`, OUTPUT_MANIFEST);
  const state = checkOutDir(outDir, options, names);
  const { dir } = state;
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw isFsError(err) ? fsError(err, dir, 'a folder to write into') : err;
    }
  };
  if (!state.exists) guard(() => fs.mkdirSync(dir, { recursive: true }));
  const staging = guard(() => fs.mkdtempSync(path.join(dir, STAGING_PREFIX)));
  const manifest: OutputManifest = { format: OUTPUT_MANIFEST_FORMAT, kind: options.kind, files: {} };
  try {
    guard(() => {
      for (const [name, data] of Object.entries(files)) {
        fs.writeFileSync(path.join(staging, name), data);
        manifest.files[name] = { bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength, sha256: sha256(data) };
      }
      fs.writeFileSync(path.join(staging, OUTPUT_MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
    });
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (!state.exists) fs.rmSync(dir, { recursive: true, force: true }); // only the staging folder was in it
    throw err;
  }
  guard(() => {
    for (const name of [...names, OUTPUT_MANIFEST]) {
      const target = path.join(dir, name);
      const old = fs.existsSync(target) ? fs.statSync(target).mode & 0o7777 : undefined;
      if (old !== undefined) fs.chmodSync(path.join(staging, name), old);
      fs.renameSync(path.join(staging, name), target);
    }
    fs.rmdirSync(staging);
  });
  // files of the previous output this one no longer has, unless the user changed them; and staging
  // folders a killed run left behind (only ever ours)
  const removed = Object.keys(state.previous?.files ?? {}).filter((n) => !(n in files) && !state.changed.includes(n) && fs.existsSync(path.join(dir, n)));
  for (const n of removed) fs.rmSync(path.join(dir, n), { force: true });
  for (const e of fs.readdirSync(dir)) if (e.startsWith(STAGING_PREFIX)) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  return { dir, written: names, kept: [...state.userFiles, ...state.changed.filter((n) => !(n in files))], removed };
}
