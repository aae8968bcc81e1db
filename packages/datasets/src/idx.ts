/**
 * IDX files (the MNIST / Fashion-MNIST format): a big-endian header, then uint8 data.
 * magic 0x00000803 = uint8 images [count, rows, cols]; 0x00000801 = uint8 labels [count].
 * Gzipped files (magic bytes 1f 8b) are inflated first: synchronously with node:zlib
 * (`readIdx`, read-idx.ts), or with the web's DecompressionStream (`decodeIdx`, here: browsers
 * and Node alike). This file needs no Node module.
 */
import { DataError } from '@tinyblocks/core/base';

export const IDX_IMAGES = 0x803;
export const IDX_LABELS = 0x801;

export interface IdxData {
  magic: number;
  dims: number[];
  data: Uint8Array;
}

export interface IdxExpect {
  magic?: number;
  /** Expected dimensions; null accepts any size for that axis. */
  dims?: Array<number | null>;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function gzipError(file: string, err: unknown): DataError {
  return new DataError({ file }, 'gzip', 'a complete gzip stream', (err as Error).message, 'truncated or corrupt file');
}

/** Parses inflated IDX bytes. Every problem is a DataError naming `file` and the field. */
export function parseIdx(raw: Uint8Array, file: string, expect: IdxExpect = {}): IdxData {
  if (isGzip(raw)) throw new DataError({ file }, 'bytes', 'inflated IDX bytes (readIdx or decodeIdx inflate gzip)', 'gzip data');
  if (raw.length < 8) throw new DataError({ file }, 'header', 'at least 8 bytes', raw.length);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== IDX_IMAGES && magic !== IDX_LABELS) {
    throw new DataError({ file }, 'magic', `${hex(IDX_IMAGES)} (images) or ${hex(IDX_LABELS)} (labels)`, hex(magic));
  }
  if (expect.magic !== undefined && magic !== expect.magic) {
    throw new DataError({ file }, 'magic', hex(expect.magic), hex(magic));
  }
  const rank = magic === IDX_IMAGES ? 3 : 1;
  const header = 4 + 4 * rank;
  if (raw.length < header) throw new DataError({ file }, 'header', `${header} bytes`, raw.length);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const want = expect.dims;
  if (want && (want.length !== rank || want.some((d, i) => d !== null && d !== dims[i]))) {
    throw new DataError({ file }, 'dims', `[${want.map((d) => d ?? 'any').join(', ')}]`, dims);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (raw.length !== header + count) {
    throw new DataError(
      { file },
      'length',
      `${header + count} bytes (header + [${dims.join(' x ')}] uint8)`,
      raw.length,
      raw.length < header + count ? 'truncated file' : 'trailing bytes',
    );
  }
  return { magic, dims, data: raw.subarray(header) };
}

/** IDX bytes, gzipped or not, inflated with DecompressionStream (browsers, Node >= 18). */
export async function decodeIdx(bytes: Uint8Array, file: string, expect: IdxExpect = {}): Promise<IdxData> {
  if (!isGzip(bytes)) return parseIdx(bytes, file, expect);
  let raw: Uint8Array;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    raw = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (err) {
    throw gzipError(file, err);
  }
  return parseIdx(raw, file, expect);
}

/** Builds an (uncompressed) IDX file: the inverse of readIdx. */
export function writeIdx(magic: typeof IDX_IMAGES | typeof IDX_LABELS, dims: number[], data: Uint8Array): Uint8Array {
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}
