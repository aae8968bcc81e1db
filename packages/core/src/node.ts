/**
 * Node-only helpers (`@tinyblocks/core/node`): output folders that lose nothing of the user's,
 * defensive file reading, and saving / loading tf.layers models as model.json + weights.bin
 * without tfjs-node. A model folder is checked whole (graph, paths, sizes, values) before tfjs
 * sees it.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DataError, TinyblocksError } from './errors.js';
import { pathInside, readFileBounded, requireFolder } from './files.js';
import { checkJsonDepth, checkModelTopology, checkWeightSpecsAgainstConfig } from './model-check.js';
import { writeOutDir } from './out-dir.js';
import './setup.js';

export * from './files.js';
export * from './out-dir.js';
export { checkJsonDepth, checkModelTopology, checkWeightSpecsAgainstConfig, MODEL_LIMITS } from './model-check.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

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

export const INTEGRITY_FIELD = 'tinyblocksIntegrity';
const MAX_MODEL_JSON_BYTES = 64 << 20;
const MAX_WEIGHT_BYTES = 2 ** 31 - 1;
/** Weights larger than this in magnitude are refused: no trained layer has them, a corrupt file does. */
export const MAX_ABS_WEIGHT = 1e6;

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The hash saveModel records: model.json without its integrity field, and each weights file. */
function integrityOf(json: Record<string, unknown>): string {
  const { [INTEGRITY_FIELD]: _, ...rest } = json;
  return sha256(JSON.stringify(rest));
}

export interface SaveOptions {
  /** Overwrite files of a previous save that were changed since (never files the user added). */
  force?: boolean;
}

/**
 * Saves a tf.layers model to `dir` as model.json + weights.bin, with SHA-256 hashes of both in
 * model.json (`tinyblocksIntegrity`) so loadModel notices a corrupted or edited copy. `dir` must
 * be new, empty or a previous model saved here (see writeOutDir): nothing of the user's is lost.
 */
export async function saveModel(
  model: tfl.LayersModel,
  dir: string,
  metadata?: Record<string, unknown>,
  options: SaveOptions = {},
): Promise<void> {
  if (metadata) model.setUserDefinedMetadata(metadata as Record<string, never>);
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = joinBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
      const modelJson: Record<string, unknown> = {
        format: 'layers-model',
        generatedBy: 'tinyblocks',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs }],
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      modelJson[INTEGRITY_FIELD] = { modelJson: integrityOf(modelJson), weights: { [WEIGHTS_BIN]: sha256(weights) } };
      writeOutDir(dir, { [MODEL_JSON]: JSON.stringify(modelJson), [WEIGHTS_BIN]: weights }, { kind: 'model', ...(options.force ? { force: true } : {}) });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

export interface ModelFiles {
  modelJson: tf.io.ModelJSON;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
  /** Plausibility warnings (weights far out of line with the rest of their tensor). */
  warnings: string[];
}

function checkIntegrity(json: Record<string, unknown>, jsonFile: string): Record<string, string> | undefined {
  const rec = json[INTEGRITY_FIELD] as { modelJson?: unknown; weights?: unknown } | undefined;
  if (rec === undefined) return undefined;
  const hint = `if you edited it on purpose, delete its "${INTEGRITY_FIELD}" field`;
  if (!rec || typeof rec !== 'object' || typeof rec.modelJson !== 'string' || !rec.weights || typeof rec.weights !== 'object') {
    throw new DataError({ file: jsonFile }, INTEGRITY_FIELD, '{ modelJson, weights } SHA-256 hashes', rec, hint);
  }
  if (integrityOf(json) !== rec.modelJson) {
    throw new DataError({ file: jsonFile }, INTEGRITY_FIELD, 'model.json as tinyblocks saved it (SHA-256 recorded in it)', 'different contents', `changed or corrupted since it was saved; ${hint}`);
  }
  return rec.weights as Record<string, string>;
}

/** NaN / Inf / absurd magnitudes are errors naming the weight; values far out of line are warnings. */
function checkValues(spec: tf.io.WeightsManifestEntry, data: Uint8Array, file: string, warnings: string[]): void {
  if (spec.dtype !== 'float32') return;
  const v = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  let maxAbs = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) throw new DataError({ file }, `weight '${spec.name}'[${i}]`, 'a finite number', String(x), 'corrupt weights file');
    const a = Math.abs(x);
    if (a > maxAbs) maxAbs = a;
    if (a > MAX_ABS_WEIGHT) throw new DataError({ file }, `weight '${spec.name}'[${i}]`, `a magnitude of at most ${MAX_ABS_WEIGHT.toExponential(0)} (no trained layer has more)`, x.toExponential(3), 'corrupt weights file');
  }
  if (v.length >= 16 && maxAbs > 0) {
    const mags = Array.from(v, Math.abs).filter((a) => a > 0).sort((a, b) => a - b);
    const median = mags[mags.length >> 1] ?? 0;
    if (median > 0 && maxAbs > 1e4 * median) {
      warnings.push(`${file}: weight '${spec.name}': largest magnitude ${maxAbs.toExponential(2)} is ${(maxAbs / median).toExponential(1)}x its median (${median.toExponential(2)}); a corrupt value?`);
    }
  }
}

/**
 * Reads and checks a model folder before tfjs sees it: model.json as a graph (every inbound node
 * exists, names unique, no cycle, shapes and hyper-parameters within bounds, layer classes
 * registered), weight paths inside the folder, regular files of exactly the declared sizes,
 * finite and plausible values, and the SHA-256 hashes saveModel recorded. Every problem is a
 * DataError naming the file and field.
 */
export function readModelFiles(dir: string): ModelFiles {
  requireFolder(dir, 'a model folder (model.json + weights)');
  const jsonFile = path.join(dir, MODEL_JSON);
  const text = readFileBounded(jsonFile, { what: 'a model.json file', maxBytes: MAX_MODEL_JSON_BYTES }).toString('utf8');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DataError({ file: jsonFile }, 'contents', 'valid JSON', (err as Error).message.slice(0, 160));
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new DataError({ file: jsonFile }, 'contents', 'a JSON object', Array.isArray(json) ? 'an array' : json);
  }
  checkJsonDepth(json, jsonFile);
  const hashes = checkIntegrity(json, jsonFile);
  if (typeof json['modelTopology'] !== 'object' || json['modelTopology'] === null) {
    throw new DataError({ file: jsonFile }, 'modelTopology', 'an object', json['modelTopology']);
  }
  const classes = tf.serialization.SerializationMap.getMap().classNameMap;
  checkModelTopology(json, jsonFile, {}, (c) => Object.hasOwn(classes, c));
  const manifest = json['weightsManifest'];
  if (!Array.isArray(manifest)) throw new DataError({ file: jsonFile }, 'weightsManifest', 'an array', manifest);
  checkWeightSpecsAgainstConfig(json, jsonFile);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  const warnings: string[] = [];
  const names = new Set<string>();
  manifest.forEach((group: Record<string, unknown>, g: number) => {
    const paths = group?.['paths'];
    const weights = group?.['weights'];
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string')) {
      throw new DataError({ file: jsonFile }, `weightsManifest[${g}].paths`, 'an array of file names', paths);
    }
    if (!Array.isArray(weights)) {
      throw new DataError({ file: jsonFile }, `weightsManifest[${g}].weights`, 'an array of weight specs', weights);
    }
    const specs: Array<{ spec: tf.io.WeightsManifestEntry; bytes: number }> = [];
    let expected = 0;
    weights.forEach((w: Record<string, unknown>, i: number) => {
      const where = `weightsManifest[${g}].weights[${i}]`;
      if (typeof w?.['name'] !== 'string' || w['name'] === '') throw new DataError({ file: jsonFile }, `${where}.name`, 'a weight name', w?.['name']);
      if (names.has(w['name'])) throw new DataError({ file: jsonFile }, `${where}.name`, 'a name no other weight has', w['name']);
      names.add(w['name']);
      const shape = w['shape'];
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new DataError({ file: jsonFile }, `${where}.shape`, 'an array of integers >= 0', shape);
      const bytes = Object.hasOwn(DTYPE_BYTES, w['dtype'] as string) ? DTYPE_BYTES[w['dtype'] as string]! : undefined;
      if (bytes === undefined) throw new DataError({ file: jsonFile }, `${where}.dtype`, 'float32, int32 or bool', w['dtype']);
      if (w['quantization'] !== undefined) {
        throw new DataError({ file: jsonFile }, `${where}.quantization`, 'unquantized float weights', w['quantization']);
      }
      const size = (shape as number[]).reduce((a, b) => a * b, 1) * bytes;
      expected += size;
      specs.push({ spec: w as unknown as tf.io.WeightsManifestEntry, bytes: size });
    });
    if (expected > MAX_WEIGHT_BYTES) throw new DataError({ file: jsonFile }, `weightsManifest[${g}].weights`, `at most ${MAX_WEIGHT_BYTES.toLocaleString('en-US')} bytes of weights`, `${expected.toLocaleString('en-US')} bytes declared`);
    const parts: Uint8Array[] = [];
    let got = 0;
    (paths as string[]).forEach((p, k) => {
      const file = pathInside(dir, p, { file: jsonFile, field: `weightsManifest[${g}].paths[${k}]` });
      const what = `${expected} bytes for the ${weights.length} weights listed in ${MODEL_JSON} (weightsManifest[${g}])`;
      // one file per group (as saveModel writes): its size is known exactly; shards share the total
      const data = paths.length === 1
        ? readFileBounded(file, { what: 'a weights file', maxBytes: MAX_WEIGHT_BYTES, exactBytes: expected, exactWhat: what })
        : readFileBounded(file, { what: 'a weights file', maxBytes: Math.max(0, expected - got) });
      const hash = hashes?.[path.basename(p)];
      if (hashes && hash !== undefined && sha256(data) !== hash) {
        throw new DataError({ file }, 'contents', 'the weights tinyblocks saved (SHA-256 recorded in model.json)', 'different bytes', `changed or corrupted since it was saved; if you replaced it on purpose, delete the "${INTEGRITY_FIELD}" field of model.json`);
      }
      got += data.byteLength;
      parts.push(data);
    });
    if (got !== expected) {
      throw new DataError({ file: path.join(dir, (paths as string[]).join('+')) }, 'byteLength', `${expected} bytes for the ${weights.length} weights listed in ${MODEL_JSON}`, `${got} bytes`, 'truncated or corrupt weights file');
    }
    const all = joinBuffers(parts.map((c) => c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength) as ArrayBuffer));
    let off = 0;
    const shown = path.join(dir, String(paths[0]));
    for (const { spec, bytes } of specs) {
      checkValues(spec, all.subarray(off, off + bytes), shown, warnings);
      off += bytes;
    }
    weightSpecs.push(...specs.map((s) => s.spec));
    chunks.push(all);
  });
  const all = joinBuffers(chunks.map((c) => c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength) as ArrayBuffer));
  return {
    modelJson: json as unknown as tf.io.ModelJSON,
    weightSpecs,
    weightData: all.buffer as ArrayBuffer,
    warnings,
  };
}

export interface LoadOptions {
  /** Called with each plausibility warning (default: none shown). */
  onWarning?: (message: string) => void;
  /** Run the loaded model once on a zero input and require finite outputs (default true). */
  checkRuns?: boolean;
}

/** One forward pass on zeros: a model that throws or answers NaN is refused here, naming the file. */
function checkRuns(model: tfl.LayersModel, file: string): void {
  const shapes = model.inputs.map((i) => i.shape.slice(1));
  if (shapes.some((s) => s.some((d) => d == null))) return;
  try {
    tf.tidy(() => {
      const xs = shapes.map((s) => tf.zeros([1, ...(s as number[])]));
      const ys = [model.predict(xs.length === 1 ? xs[0]! : xs)].flat() as tf.Tensor[];
      ys.forEach((y, k) => {
        const v = y.dataSync();
        for (let i = 0; i < v.length; i++) {
          if (!Number.isFinite(v[i]!)) throw new DataError({ file }, `output ${k} (${model.outputNames[k] ?? k})`, 'finite numbers for a zero input', String(v[i]), 'its weights or configuration are broken');
        }
      });
    });
  } catch (err) {
    if (err instanceof TinyblocksError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new DataError({ file }, 'modelTopology', 'a model that runs on its declared input shape', message.split('\n')[0]!.slice(0, 300));
  }
}

/**
 * Loads a model saved by saveModel (or any tfjs layers-model directory), checked first by
 * readModelFiles. Custom tinyblocks layers must be registered first: import the block packages
 * the model uses.
 */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<tfl.LayersModel> {
  const { modelJson, weightSpecs, weightData, warnings } = readModelFiles(dir);
  for (const w of warnings) options.onWarning?.(w);
  const handler = tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs,
    weightData,
    userDefinedMetadata: modelJson.userDefinedMetadata,
  });
  const file = path.join(dir, MODEL_JSON);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(handler);
  } catch (err) {
    // a block's own config check names its layer; say which file too
    if (err instanceof TinyblocksError) throw new DataError({ file }, `${err.where}: ${err.field}`, err.expected, err.got);
    const message = err instanceof Error ? err.message : String(err);
    throw new DataError({ file }, 'modelTopology', 'a model tf.layers can build from its layers and weights', message.split('\n')[0]!.slice(0, 300));
  }
  if (options.checkRuns !== false) {
    try {
      checkRuns(model, file);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  return model;
}
