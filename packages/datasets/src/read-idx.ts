/** readIdx: IDX bytes, gzipped or not, inflated synchronously with node:zlib. */
import { gunzipSync } from 'node:zlib';
import { gzipError, isGzip, parseIdx, type IdxData, type IdxExpect } from './idx.js';

/** Parses IDX bytes (gzipped or not). Every problem is a DataError naming `file` and the field. */
export function readIdx(bytes: Uint8Array, file: string, expect: IdxExpect = {}): IdxData {
  let raw = bytes;
  if (isGzip(bytes)) {
    try {
      raw = new Uint8Array(gunzipSync(bytes, { maxOutputLength: 1 << 30 })); // a gzip bomb stops at 1 GiB
    } catch (err) {
      throw gzipError(file, err);
    }
  }
  return parseIdx(raw, file, expect);
}
