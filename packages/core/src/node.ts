/**
 * Node-only helpers (`@tinyblocks/core/node`): atomic directory writes and saving / loading
 * tf.layers models as model.json + weights.bin without tfjs-node.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from './errors.js';
import './setup.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/**
 * Writes files into `dir` all at once: they go to a temporary sibling directory that is renamed
 * into place at the end, so a failure never leaves a half-written `dir` behind. An existing
 * `dir` is replaced.
 */
export function writeDirAtomic(dir: string, files: Record<string, string | Uint8Array>): void {
  const target = path.resolve(dir);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = fs.mkdtempSync(`${target}.tmp-`);
  try {
    for (const [name, data] of Object.entries(files)) {
      const file = path.join(tmp, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, data);
    }
    if (fs.existsSync(target)) {
      const old = `${tmp}-old`;
      fs.renameSync(target, old);
      fs.renameSync(tmp, target);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, target);
    }
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function joinBuffers(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  const parts = Array.isArray(data) ? data : [data];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), offset);
    offset += p.byteLength;
  }
  return out;
}

/** Saves a tf.layers model to `dir` as model.json + weights.bin (atomically). */
export async function saveModel(
  model: tfl.LayersModel,
  dir: string,
  metadata?: Record<string, unknown>,
): Promise<void> {
  if (metadata) model.setUserDefinedMetadata(metadata as Record<string, never>);
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = joinBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
      const modelJson = {
        format: 'layers-model',
        generatedBy: 'tinyblocks',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs }],
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      writeDirAtomic(dir, { [MODEL_JSON]: JSON.stringify(modelJson), [WEIGHTS_BIN]: weights });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

export interface ModelFiles {
  modelJson: tf.io.ModelJSON;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** Reads and checks model.json and its weight files, naming the file and field of any problem. */
export function readModelFiles(dir: string): ModelFiles {
  const jsonFile = path.join(dir, MODEL_JSON);
  if (!fs.existsSync(jsonFile)) throw new DataError({ file: jsonFile }, 'file', 'a model.json file', 'no such file');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  } catch (err) {
    throw new DataError({ file: jsonFile }, 'contents', 'valid JSON', (err as Error).message);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new DataError({ file: jsonFile }, 'contents', 'a JSON object', json);
  }
  if (typeof json['modelTopology'] !== 'object' || json['modelTopology'] === null) {
    throw new DataError({ file: jsonFile }, 'modelTopology', 'an object', json['modelTopology']);
  }
  const manifest = json['weightsManifest'];
  if (!Array.isArray(manifest)) throw new DataError({ file: jsonFile }, 'weightsManifest', 'an array', manifest);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  manifest.forEach((group: Record<string, unknown>, g: number) => {
    const paths = group?.['paths'];
    const weights = group?.['weights'];
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) {
      throw new DataError({ file: jsonFile }, `weightsManifest[${g}].paths`, 'an array of file names', paths);
    }
    if (!Array.isArray(weights)) {
      throw new DataError({ file: jsonFile }, `weightsManifest[${g}].weights`, 'an array of weight specs', weights);
    }
    let expected = 0;
    weights.forEach((w: Record<string, unknown>, i: number) => {
      const where = `weightsManifest[${g}].weights[${i}]`;
      if (typeof w?.['name'] !== 'string') throw new DataError({ file: jsonFile }, `${where}.name`, 'a string', w?.['name']);
      if (!Array.isArray(w['shape'])) throw new DataError({ file: jsonFile }, `${where}.shape`, 'an array', w['shape']);
      const bytes = DTYPE_BYTES[w['dtype'] as string];
      if (bytes === undefined) throw new DataError({ file: jsonFile }, `${where}.dtype`, 'float32, int32 or bool', w['dtype']);
      if (w['quantization'] !== undefined) {
        throw new DataError({ file: jsonFile }, `${where}.quantization`, 'unquantized float weights', w['quantization']);
      }
      expected += (w['shape'] as number[]).reduce((a, b) => a * b, 1) * bytes;
      weightSpecs.push(w as unknown as tf.io.WeightsManifestEntry);
    });
    let got = 0;
    for (const p of paths as string[]) {
      const file = path.join(dir, p);
      if (!fs.existsSync(file)) throw new DataError({ file }, 'file', `a weights file named in ${MODEL_JSON}`, 'no such file');
      const data = fs.readFileSync(file);
      got += data.byteLength;
      chunks.push(data);
    }
    if (got !== expected) {
      throw new DataError(
        { file: path.join(dir, (paths as string[]).join('+')) },
        'byteLength',
        `${expected} bytes for the ${weights.length} weights listed in ${MODEL_JSON}`,
        `${got} bytes`,
        'truncated or corrupt weights file',
      );
    }
  });
  const all = joinBuffers(chunks.map((c) => c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength) as ArrayBuffer));
  return {
    modelJson: json as unknown as tf.io.ModelJSON,
    weightSpecs,
    weightData: all.buffer as ArrayBuffer,
  };
}

/**
 * Loads a model saved by saveModel (or any tfjs layers-model directory). Custom tinyblocks layers
 * must be registered first: import the block packages the model uses.
 */
export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  const { modelJson, weightSpecs, weightData } = readModelFiles(dir);
  const handler = tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs,
    weightData,
    userDefinedMetadata: modelJson.userDefinedMetadata,
  });
  try {
    return await tfl.loadLayersModel(handler);
  } catch (err) {
    throw new DataError(
      { file: path.join(dir, MODEL_JSON) },
      'modelTopology',
      'layers known to tf.layers or registered by an imported @tinyblocks package',
      (err as Error).message,
    );
  }
}
