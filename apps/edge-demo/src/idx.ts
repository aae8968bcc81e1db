/** IDX (MNIST format) in the browser: gunzip with DecompressionStream, big-endian header, uint8 data. */
export interface Idx {
  dims: number[];
  data: Uint8Array;
}

export async function fetchIdx(url: string): Promise<Idx> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
  let bytes = new Uint8Array(await res.clone().arrayBuffer());
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    bytes = new Uint8Array(await new Response(res.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  }
  return parseIdx(bytes, url);
}

export function parseIdx(bytes: Uint8Array, name = 'idx'): Idx {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const rank = magic === 0x803 ? 3 : magic === 0x801 ? 1 : 0;
  if (!rank) throw new Error(`${name}: magic 0x${magic.toString(16)}, expected 0x803 or 0x801`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const header = 4 + 4 * rank;
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + count) throw new Error(`${name}: ${bytes.length} bytes, expected ${header + count}`);
  return { dims, data: bytes.subarray(header) };
}
