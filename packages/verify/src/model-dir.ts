/** Reading an export folder: the graph (`<name>.int8.json`) and the C sources next to it. */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError } from '@tinyblocks/core/base';
import { changedFiles, OUTPUT_MANIFEST, readFileBounded, readOutputManifest, requireFolder } from '@tinyblocks/core/node';
import { EXPORT_KIND } from '@tinyblocks/export-c';
import { type Int8Graph, parseGraph, tensorSize, validateGraph } from '@tinyblocks/int8';

export interface ModelDir {
  dir: string;
  /** The C prefix (`<name>_run`). */
  name: string;
  graph: Int8Graph;
  /** Every .c file the export wrote (model, data, runtime kernels; not the example main.c, not the user's own), sorted. */
  sources: string[];
  /** Files of the export changed since it was written (compiled as they are now). */
  changed: string[];
  inputSize: number;
  outputSize: number;
  numConcepts: number;
}

const SUFFIX = '.int8.json';

export function readModelDir(outDir: string): ModelDir {
  const dir = resolve(outDir);
  requireFolder(dir, 'an export folder written by tinyblocks export');
  // the manifest, not the folder listing, says which files are the export's: the user's own
  // .c files beside them are never compiled (nor blamed as generated C)
  const manifest = readOutputManifest(dir);
  if (!manifest || manifest.kind !== EXPORT_KIND) {
    throw new DataError({ file: join(dir, OUTPUT_MANIFEST) }, 'file', 'the manifest of a C export written by tinyblocks export', manifest ? `a ${manifest.kind} manifest` : 'no such file', 'export the model again with tinyblocks export');
  }
  const entries = Object.keys(manifest.files).sort();
  const graphs = entries.filter((f) => f.endsWith(SUFFIX));
  if (graphs.length !== 1) {
    throw new DataError({ file: join(dir, `<name>${SUFFIX}`) }, 'file', `exactly one <name>${SUFFIX} in the export folder`, graphs.length === 0 ? 'no such file' : graphs);
  }
  const present = new Set(readdirSync(dir));
  for (const f of entries) if (!present.has(f)) throw new DataError({ file: join(dir, f) }, 'file', `the file ${f} the export wrote`, 'no such file');
  const graphFile = join(dir, graphs[0]!);
  const name = graphs[0]!.slice(0, -SUFFIX.length);
  let graph: Int8Graph;
  try {
    graph = parseGraph(readFileBounded(graphFile, { what: 'an int8 graph file', maxBytes: 256 << 20 }).toString('utf8'), graphFile);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError({ file: graphFile }, 'file', 'a readable int8 graph', (e as Error).message.slice(0, 200));
  }
  validateGraph(graph, graphFile);
  for (const f of [`${name}_model.h`, `${name}_model.c`, `${name}_model_data.c`]) {
    if (!entries.includes(f)) throw new DataError({ file: join(dir, f) }, 'file', `the generated C file ${f}`, 'no such file');
  }
  const logits = graph.outputs.find((o) => o.role === 'logits') ?? graph.outputs[0]!;
  const concepts = graph.outputs.find((o) => o.role === 'concepts');
  return {
    dir,
    name,
    graph,
    // main.c is the user's example program (export-c writes it), not part of the model
    sources: entries.filter((f) => f.endsWith('.c') && f !== 'main.c').map((f) => join(dir, f)),
    changed: changedFiles(dir, manifest),
    inputSize: tensorSize(graph.tensors[graph.input]!),
    outputSize: tensorSize(graph.tensors[logits.tensor]!),
    numConcepts: concepts ? tensorSize(graph.tensors[concepts.tensor]!) : 0,
  };
}

/** Frames as one stdin block: u32 count (little-endian), then the frames back to back. */
export function packFrames(op: string, inputs: readonly Int8Array[], inputSize: number): Uint8Array {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new DataError({ op }, 'inputs', 'a non-empty array of Int8Array frames', inputs);
  const buf = new Uint8Array(4 + inputs.length * inputSize);
  new DataView(buf.buffer).setUint32(0, inputs.length, true);
  inputs.forEach((x, i) => {
    if (!(x instanceof Int8Array) || x.length !== inputSize) {
      throw new DataError({ op }, `inputs[${i}]`, `an Int8Array of ${inputSize} codes`, x instanceof Int8Array ? `${x.length} codes` : typeof x);
    }
    buf.set(new Uint8Array(x.buffer, x.byteOffset, x.length), 4 + i * inputSize);
  });
  return buf;
}
