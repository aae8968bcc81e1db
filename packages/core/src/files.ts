/**
 * Reading files people download and share, defensively: a path named inside a model folder stays
 * inside it (no `..`, no absolute path, no symlink leading out), only regular files are read (not
 * a FIFO that blocks forever, not /dev/zero that never ends), sizes are bounded before anything is
 * allocated, and every file-system failure becomes a typed error naming the path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, TinyblocksError } from './errors.js';

/** What a file-system error code means, in words. */
const FS_CODES: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EISDIR: 'a folder',
  ENOTDIR: 'a path through something that is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'a read-only file system',
  EEXIST: 'something already there',
  ENAMETOOLONG: 'a name too long for the file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota exceeded',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  EBUSY: 'a busy resource',
  EXDEV: 'a path on another file system',
  ENOTEMPTY: 'a folder that is not empty',
};

/** A Node file-system error (it has a string `code` like 'ENOENT'). */
export function isFsError(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code!);
}

/** A file-system error as a typed DataError naming the path, what was expected and what was found. */
export function fsError(err: NodeJS.ErrnoException, fallbackPath: string, expected: string): DataError {
  const file = err.path ?? fallbackPath;
  const code = err.code ?? 'EIO';
  return new DataError({ file }, 'path', expected, `${FS_CODES[code] ?? 'an I/O error'} (${code}${err.syscall ? ` in ${err.syscall}` : ''})`);
}

/** Runs `fn`; a file-system error it throws becomes `fsError(…)`; typed errors pass through. */
export function withFsErrors<T>(file: string, expected: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TinyblocksError || !isFsError(err)) throw err;
    throw fsError(err, file, expected);
  }
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'a regular file';
}

export interface ReadOptions {
  /** What the file should be, for messages ('a model.json file'). */
  what: string;
  /** The most bytes accepted (checked before reading). */
  maxBytes: number;
  /** The exact size expected, when known. */
  exactBytes?: number;
  /** Describes an exactBytes mismatch (default: "<exact> bytes"). */
  exactWhat?: string;
}

/**
 * Reads a regular file whole, with its size checked first. Opened non-blocking and checked with
 * fstat on the open descriptor, so a FIFO or device is refused without blocking or reading.
 */
export function readFileBounded(file: string, options: ReadOptions): Buffer {
  return withFsErrors(file, options.what, () => {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    } catch (err) {
      if (isFsError(err) && err.code === 'ENOENT') throw new DataError({ file }, 'file', options.what, 'no such file');
      throw err;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new DataError({ file }, 'file', options.what, kindOf(st));
      if (options.exactBytes !== undefined && st.size !== options.exactBytes) {
        throw new DataError({ file }, 'byteLength', options.exactWhat ?? `${options.exactBytes} bytes`, `${st.size} bytes`, 'truncated, extended or corrupt file');
      }
      if (st.size > options.maxBytes) {
        throw new DataError({ file }, 'byteLength', `at most ${options.maxBytes.toLocaleString('en-US')} bytes for ${options.what}`, `${st.size.toLocaleString('en-US')} bytes`);
      }
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < st.size) {
        const n = fs.readSync(fd, buf, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      if (off !== st.size) throw new DataError({ file }, 'byteLength', `${st.size} bytes (its size when opened)`, `${off} bytes read`, 'the file changed while it was read');
      return buf;
    } finally {
      fs.closeSync(fd);
    }
  });
}

/**
 * Resolves `rel`, a path written inside a file of `root` (a weights path in model.json), and
 * checks it stays inside `root`: no absolute path, no `..`, and its real path (symlinks
 * followed) inside root's real path. Returns the path to read.
 */
export function pathInside(root: string, rel: string, source: { file: string; field: string }): string {
  const bad = (got: string) => new DataError({ file: source.file }, source.field, `a file name inside ${root} (no absolute path, no '..', no symlink leading out)`, got);
  if (typeof rel !== 'string' || rel === '' || rel.includes('\0')) throw bad(String(rel));
  if (path.isAbsolute(rel) || /^[A-Za-z]:|^[\\/]/.test(rel)) throw bad(rel);
  const parts = rel.split(/[\\/]+/);
  if (parts.some((p) => p === '..')) throw bad(rel);
  const file = path.join(root, rel);
  let realRoot: string;
  let realFile: string;
  try {
    realRoot = fs.realpathSync(root);
    realFile = fs.realpathSync(file);
  } catch (err) {
    if (isFsError(err) && err.code === 'ENOENT') throw new DataError({ file }, 'file', `a weights file named in ${path.basename(source.file)} (${source.field})`, 'no such file');
    if (isFsError(err)) throw fsError(err, file, 'a weights file');
    throw err;
  }
  const within = path.relative(realRoot, realFile);
  if (within === '' || within.startsWith('..') || path.isAbsolute(within)) throw bad(`${rel} (resolves to ${realFile})`);
  return file;
}

/** Checks `dir` is an existing folder (typed errors otherwise). */
export function requireFolder(dir: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if (isFsError(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) throw new DataError({ file: dir }, 'folder', what, 'no such folder');
    if (isFsError(err)) throw fsError(err, dir, what);
    throw err;
  }
  if (!st.isDirectory()) throw new DataError({ file: dir }, 'folder', what, kindOf(st));
}
