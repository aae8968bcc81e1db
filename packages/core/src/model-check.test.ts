import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { DataError } from './errors.js';
import { MODEL_LIMITS, checkJsonDepth, checkModelTopology, checkWeightSpecsAgainstConfig } from './model-check.js';

type Json = Record<string, any>;

const SHIPPED = new URL('../../models/model/reference/model.json', import.meta.url);
const FILE = 'model.json';
const shipped = JSON.parse(fs.readFileSync(SHIPPED, 'utf8')) as Json;
const TINYBLOCKS_CLASSES = ['EvoNormB0', 'EvoNormS0', 'CRReLU', 'PolyReLU', 'PolyNorm', 'Delta', 'ConceptBottleneck', 'EarlyExitHead'];

/** tf.layers' registry plus the tinyblocks classes the shipped model uses. */
const knownClass = (cls: string): boolean =>
  TINYBLOCKS_CLASSES.includes(cls) || cls in tf.serialization.SerializationMap.getMap().classNameMap;

const copy = (): Json => structuredClone(shipped);
const layerOf = (json: Json, name: string): Json => json['modelTopology'].config.layers.find((l: Json) => l['name'] === name);
const check = (json: Json): void => checkModelTopology(json, FILE);

/** Runs `run`, which must throw a DataError matching `fragment`, and finish fast. */
function expectDataError(run: () => void, fragment: RegExp): void {
  const start = performance.now();
  let error: unknown;
  try {
    run();
  } catch (err) {
    error = err;
  }
  expect(performance.now() - start).toBeLessThan(1000);
  expect(error).toBeInstanceOf(DataError);
  expect((error as Error).message).toMatch(fragment);
}

function expectPasses(run: () => void): void {
  const start = performance.now();
  expect(run).not.toThrow();
  expect(performance.now() - start).toBeLessThan(1000);
}

/** `{a: {a: ... }}` or `[[...]]` nested `depth` levels, built without recursion. */
function nested(depth: number, kind: 'object' | 'array'): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = kind === 'object' ? { a: v } : [v];
  return v;
}

/** The model.json tfjs saves for `model`, and a loader of the saved model (weights included). */
async function saveOf(model: tfl.LayersModel): Promise<{ json: Json; reload: () => Promise<tfl.LayersModel> }> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const json = { modelTopology: structuredClone(saved!.modelTopology), weightsManifest: [{ paths: ['weights.bin'], weights: saved!.weightSpecs }] };
  return { json, reload: () => tfl.loadLayersModel(tf.io.fromMemory(saved!)) };
}

/** x -> A -> B, as tfjs saves it. */
function chainTopology(): Json {
  const x = tfl.input({ shape: [4], name: 'x' });
  const b = tfl.layers.dense({ units: 4, name: 'B' }).apply(tfl.layers.dense({ units: 4, name: 'A' }).apply(x));
  return { modelTopology: tfl.model({ inputs: x, outputs: b as tfl.SymbolicTensor }).toJSON(null, false) };
}

describe('checkModelTopology on real models', () => {
  beforeAll(() => initBackend('cpu'));

  it('passes the shipped reference model (with and without a knownClass callback)', () => {
    expectPasses(() => check(copy()));
    expectPasses(() => checkModelTopology(copy(), FILE, {}, knownClass));
    expectPasses(() => checkWeightSpecsAgainstConfig(copy(), FILE));
  });

  it('passes the model_config wrapping and the Functional class name', () => {
    const json = copy();
    json['modelTopology'] = { model_config: { ...json['modelTopology'], class_name: 'Functional' }, training_config: {} };
    expectPasses(() => check(json));
    layerOf({ modelTopology: json['modelTopology'].model_config }, 'conv2').inbound_nodes = [[['ghost', 0, 0, {}]]];
    expectDataError(() => check(json), /^model\.json: modelTopology\.model_config\.config\.layers\[3\] \('conv2'\)\.inbound_nodes\[0\]\[0\]\[0\]: /);
  });

  it('passes a Sequential model saved by tfjs-layers, which tfjs loads back', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, padding: 'same' }),
        tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2 }),
        tfl.layers.separableConv2d({ filters: 5, kernelSize: 2 }), // tfjs 4.22 does not save its depthMultiplier
        tfl.layers.zeroPadding2d({ padding: [[1, 1], [2, 2]] }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dropout({ rate: 0.25 }),
        tfl.layers.dense({ units: 10 }),
        tfl.layers.reshape({ targetShape: [-1, 5] }),
        tfl.layers.permute({ dims: [2, 1] }),
      ],
    });
    const fromToJson = { modelTopology: model.toJSON(null, false) };
    expectPasses(() => checkModelTopology(fromToJson, FILE, {}, knownClass));
    const { json, reload } = await saveOf(model);
    expectPasses(() => checkModelTopology(json, FILE, {}, knownClass));
    expectPasses(() => checkWeightSpecsAgainstConfig(json, FILE));
    expect((await reload()).layers.length).toBe(10);
  });

  it('passes a functional model with a shared layer and a nested model, which tfjs loads back', async () => {
    const ia = tfl.input({ shape: [4], name: 'inner_in' });
    const inner = tfl.model({ inputs: ia, outputs: tfl.layers.dense({ units: 4, name: 'inner_dense' }).apply(ia) as tfl.SymbolicTensor, name: 'inner' });
    const x1 = tfl.input({ shape: [4], name: 'x1' });
    const x2 = tfl.input({ shape: [4], name: 'x2' });
    const shared = tfl.layers.dense({ units: 4, name: 'shared' });
    const sum = tfl.layers.add({ name: 'sum' }).apply([shared.apply(x1), shared.apply(x2)] as tfl.SymbolicTensor[]);
    const model = tfl.model({ inputs: [x1, x2], outputs: inner.apply(sum) as tfl.SymbolicTensor });
    const { json: saved, reload } = await saveOf(model);
    expectPasses(() => checkModelTopology(saved, FILE, {}, knownClass));
    expectPasses(() => checkWeightSpecsAgainstConfig(saved, FILE));
    expect((await reload()).outputs.length).toBe(1);
    // tfjs builds a nested model's node 0 when it constructs it, so the outer call is node 1
    expect(saved['modelTopology'].config.output_layers).toEqual([['inner', 1, 0]]);

    const nestedLayer = saved['modelTopology'].config.layers.find((l: Json) => l['name'] === 'inner');
    nestedLayer.config.layers[1].inbound_nodes = [[['inner_dense', 0, 0, {}]]];
    expectDataError(() => check(saved), /layers\[\d\] \('inner'\)\.config\.layers\[1\] \('inner_dense'\)\.inbound_nodes: expected an acyclic graph, got "a cycle through 'inner_dense' -> 'inner_dense'"/);
  });

  it('passes wrapped layers (Bidirectional, TimeDistributed) and checks inside them', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.bidirectional({ layer: tfl.layers.lstm({ units: 3, returnSequences: true }) as tfl.RNN, inputShape: [5, 2] }),
        tfl.layers.timeDistributed({ layer: tfl.layers.dense({ units: 2 }) }),
      ],
    });
    const { json, reload } = await saveOf(model);
    expectPasses(() => checkModelTopology(json, FILE, {}, knownClass));
    expect((await reload()).layers.length).toBe(2);
    json['modelTopology'].config.layers[1].config.layer.config.units = 1e9;
    expectDataError(() => check(json), /config\.layers\[1\] \('time_distributed_TimeDistributed\d+'\)\.config\.layer\.config\.units: expected an integer in \[1, 65536\], got 1000000000/);
    json['modelTopology'].config.layers[1].config.layer.class_name = 'Mystery';
    expectDataError(() => checkModelTopology(json, FILE, {}, knownClass), /\.config\.layer\.class_name: expected a layer class known to tf\.layers/);
  });

  it('checks a 10,000-layer chain listed backwards quickly, and refuses 10,001 layers', () => {
    const layers: Json[] = [];
    for (let i = MODEL_LIMITS.maxLayers - 1; i >= 1; i--) {
      layers.push({ class_name: 'Dense', name: `d${i}`, config: { name: `d${i}`, units: 2 }, inbound_nodes: [[[i === 1 ? 'in' : `d${i - 1}`, 0, 0, {}]]] });
    }
    layers.push({ class_name: 'InputLayer', name: 'in', config: { name: 'in', batch_input_shape: [null, 2] }, inbound_nodes: [] });
    const json = { modelTopology: { class_name: 'Model', config: { name: 'big', layers, input_layers: [['in', 0, 0]], output_layers: [[`d${MODEL_LIMITS.maxLayers - 1}`, 0, 0]] } } };
    const start = performance.now();
    check(json);
    expect(performance.now() - start).toBeLessThan(3000);
    layers.unshift({ class_name: 'Dense', name: 'extra', config: { name: 'extra', units: 2 }, inbound_nodes: [] });
    expectDataError(() => check(json), /modelTopology\.config\.layers: expected at most 10000 layers, got 10001/);
  });
});

describe('checkModelTopology on hostile mutations of the shipped model', () => {
  const cases: Array<[string, (json: Json) => void, RegExp]> = [
    ['a cycle (two layers feeding each other)', (j) => { layerOf(j, 'conv1').inbound_nodes = [[['norm1', 0, 0, {}]]]; },
      /layers\[1\] \('conv1'\)\.inbound_nodes: expected an acyclic graph, got "a cycle through 'conv1' -> 'norm1' -> 'conv1'"/],
    ['a self-loop', (j) => { layerOf(j, 'conv2').inbound_nodes = [[['conv2', 0, 0, {}]]]; },
      /layers\[3\] \('conv2'\)\.inbound_nodes: expected an acyclic graph, got "a cycle through 'conv2' -> 'conv2'"/],
    ['a dangling reference', (j) => { layerOf(j, 'conv2').inbound_nodes = [[['ghost', 0, 0, {}]]]; },
      /^model\.json: modelTopology\.config\.layers\[3\] \('conv2'\)\.inbound_nodes\[0\]\[0\]\[0\]: expected the name of a layer in this model, got "ghost"$/],
    ['a duplicate layer name', (j) => { const l = layerOf(j, 'norm3'); l.name = 'conv2'; l.config.name = 'conv2'; },
      /layers\[6\] \('conv2'\): expected unique layer names, got "'conv2' again \(first at modelTopology\.config\.layers\[3\]\)"/],
    ['a deleted layer others reference', (j) => { j['modelTopology'].config.layers.splice(2, 1); },
      /layers\[2\] \('conv2'\)\.inbound_nodes\[0\]\[0\]\[0\]: expected the name of a layer in this model, got "norm1"/],
    ['node index 1 where only node 0 exists', (j) => { layerOf(j, 'conv2').inbound_nodes[0][0][1] = 1; },
      /\('conv2'\)\.inbound_nodes\[0\]\[0\]\[1\]: expected a node index \(an integer in \[0, 0\]: 'norm1' has 1 node\), got 1/],
    ['an InputLayer node index 1', (j) => { j['modelTopology'].config.input_layers = [['image', 1, 0]]; },
      /input_layers\[0\]\[1\]: expected a node index \(an integer in \[0, 0\]: 'image' has 1 node\), got 1/],
    ['a negative tensor index', (j) => { layerOf(j, 'conv2').inbound_nodes[0][0][2] = -1; },
      /\('conv2'\)\.inbound_nodes\[0\]\[0\]\[2\]: expected a tensor index: an integer in \[0, 63\], got -1/],
    ['a fractional tensor index', (j) => { layerOf(j, 'conv2').inbound_nodes[0][0][2] = 0.5; }, /inbound_nodes\[0\]\[0\]\[2\]: expected a tensor index.*got 0\.5/],
    ['a tensor index of 64', (j) => { j['modelTopology'].config.output_layers[0][2] = 64; }, /output_layers\[0\]\[2\]: expected a tensor index.*got 64/],
    ['input_layers naming a non-InputLayer', (j) => { j['modelTopology'].config.input_layers = [['conv1', 0, 0]]; },
      /input_layers\[0\]\[0\]: expected the name of an InputLayer, got "'conv1' \(a Conv2D\)"/],
    ['no output layers', (j) => { j['modelTopology'].config.output_layers = []; }, /output_layers: expected a non-empty array/],
    ['a 3e10-element input', (j) => { layerOf(j, 'image').config.batch_input_shape = [null, 100000, 100000, 3]; },
      /layers\[0\] \('image'\)\.config\.batch_input_shape: expected at most 16777216 elements per sample, got 30000000000/],
    ['a zero dimension', (j) => { layerOf(j, 'image').config.batch_input_shape = [null, 28, 0, 1]; }, /batch_input_shape\[2\]: expected null or an integer >= 1, got 0/],
    ['a fractional dimension', (j) => { layerOf(j, 'image').config.batch_input_shape = [null, 28, 2.5, 1]; }, /batch_input_shape\[2\]: expected null or an integer >= 1, got 2\.5/],
    ['a "NaN" dimension', (j) => { layerOf(j, 'image').config.batch_input_shape = [null, 'NaN', 28, 1]; }, /batch_input_shape\[1\]: expected null or an integer >= 1, got "NaN"/],
    ['a negative input_shape dimension', (j) => { layerOf(j, 'flat6').config.input_shape = [-4]; }, /\('flat6'\)\.config\.input_shape\[0\]: expected null or an integer >= 1, got -4/],
    ['two -1s in a Reshape target', (j) => { layerOf(j, 'flat6').config.target_shape = [-1, -1]; }, /target_shape\[1\]: expected null, one -1 or an integer >= 1, got -1/],
    ['units 1e9', (j) => { layerOf(j, 'fc7').config.units = 1e9; }, /layers\[15\] \('fc7'\)\.config\.units: expected an integer in \[1, 65536\], got 1000000000/],
    ['kernel_size 0', (j) => { layerOf(j, 'conv1').config.kernel_size = 0; }, /\('conv1'\)\.config\.kernel_size: expected an integer in \[1, 65536\], got 0/],
    ['kernel_size [3, 0]', (j) => { layerOf(j, 'conv1').config.kernel_size = [3, 0]; }, /\('conv1'\)\.config\.kernel_size\[1\]: expected an integer in \[1, 65536\], got 0/],
    ['filters as a string', (j) => { layerOf(j, 'conv1').config.filters = '16'; }, /\('conv1'\)\.config\.filters: expected an integer in \[1, 65536\], got "16"/],
    ['negative padding', (j) => { layerOf(j, 'pool6').config.padding = [[-1, 0], [0, 0]]; }, /\('pool6'\)\.config\.padding\[0\]\[0\]: expected an integer in \[0, 65536\], got -1/],
    ['a dropout rate of 1', (j) => { layerOf(j, 'flat6').config.rate = 1; }, /\('flat6'\)\.config\.rate: expected a number in \[0, 1\), got 1/],
    ['100,000 levels of nesting', (j) => { j['userDefinedMetadata'] = nested(100_000, 'object'); },
      /^model\.json: contents: expected JSON nested at most 64 levels, got "deeper than 64 levels"$/],
    ['a Keras 3 {args, kwargs} node', (j) => { layerOf(j, 'conv2').inbound_nodes = [{ args: [{ class_name: '__keras_tensor__', config: { keras_history: ['norm1', 0, 0] } }], kwargs: {} }]; },
      /\('conv2'\)\.inbound_nodes\[0\]: expected a node as an array of .* got "a Keras 3 \{args, kwargs\} node" \(tfjs cannot load the Keras 3 format/],
    ['an empty node (tfjs never builds it)', (j) => { layerOf(j, 'conv2').inbound_nodes = [[]]; }, /\('conv2'\)\.inbound_nodes\[0\]: expected a non-empty array of inbound entries, got \[\]/],
    ['an InputLayer with inbound nodes', (j) => { layerOf(j, 'image').inbound_nodes = [[['conv1', 0, 0, {}]]]; }, /\('image'\)\.inbound_nodes: expected an empty array/],
    ['inbound_nodes and inboundNodes both (tfjs reads only one)', (j) => { layerOf(j, 'conv2').inboundNodes = [[['conv2', 0, 0, {}]]]; },
      /\('conv2'\)\.inboundNodes: expected one key meaning 'inboundNodes', got "both 'inbound_nodes' and 'inboundNodes'"/],
    ['a functional layer without a top-level name (tfjs spins)', (j) => { delete layerOf(j, 'conv2').name; },
      /layers\[3\] \('conv2'\)\.name: expected the layer's name 'conv2' \(tfjs finds functional layers by it\), got undefined/],
    ['a config.name disagreeing with the name', (j) => { layerOf(j, 'conv2').config.name = 'other'; }, /layers\[3\] \('conv2'\)\.config\.name: expected the layer's name 'conv2', got "other"/],
    ['a layer named like an Object property', (j) => { const l = layerOf(j, 'conv2'); l.name = 'constructor'; l.config.name = 'constructor'; },
      /layers\[3\]\.name: expected a layer name that is not a JavaScript object property/],
    ['a missing class_name', (j) => { delete layerOf(j, 'conv2').class_name; }, /layers\[3\]\.class_name: expected a layer class name, got undefined/],
    ['an unknown model class', (j) => { j['modelTopology'].class_name = 'Graph'; }, /modelTopology\.class_name: expected 'Sequential', 'Model' or 'Functional', got "Graph"/],
    ['no modelTopology', (j) => { delete j['modelTopology']; }, /^model\.json: modelTopology: expected an object, got undefined$/],
  ];

  it.each(cases)('rejects %s', (_title, mutate, fragment) => {
    const json = copy();
    mutate(json);
    expectDataError(() => check(json), fragment);
  });

  it('rejects an unknown class when a knownClass callback is given (and only then)', () => {
    const json = copy();
    layerOf(json, 'act2').class_name = 'Mystery';
    expectPasses(() => check(json));
    expectDataError(
      () => checkModelTopology(json, FILE, {}, knownClass),
      /layers\[4\] \('act2'\)\.class_name: expected a layer class known to tf\.layers or registered by an imported @tinyblocks package, got "Mystery" \(import the package that defines it before loading\)/,
    );
  });

  it('rejects node indices tfjs cannot build in order (acyclic, yet tfjs would spin)', () => {
    const json = chainTopology();
    const [, a, b] = json['modelTopology'].config.layers;
    a.inbound_nodes = [[['B', 0, 0, {}]], [['x', 0, 0, {}]]]; // A's node 0 waits for B, which waits for A's node 1
    b.inbound_nodes = [[['A', 1, 0, {}]]];
    json['modelTopology'].config.output_layers = [['B', 0, 0]];
    expectDataError(() => check(json), /layers\[1\] \('A'\)\.inbound_nodes\[0\]: expected node indices tfjs can build in order, got "a wait for 'B', which tfjs never builds"/);
  });

  it('honours custom limits', () => {
    expectDataError(() => checkModelTopology(copy(), FILE, { maxHyper: 32 }), /\('conv3'\)\.config\.filters: expected an integer in \[1, 32\], got 64/);
    expectDataError(() => checkModelTopology(copy(), FILE, { maxElementsPerSample: 100 }), /batch_input_shape: expected at most 100 elements per sample, got 784/);
  });
});

describe('checkJsonDepth', () => {
  it('allows 64 levels and refuses 65', () => {
    expectPasses(() => checkJsonDepth(nested(64, 'array'), FILE));
    expectDataError(() => checkJsonDepth(nested(65, 'array'), FILE), /deeper than 64 levels/);
    expectPasses(() => checkJsonDepth(nested(10, 'object'), FILE, 10));
    expectDataError(() => checkJsonDepth(nested(11, 'object'), FILE, 10), /expected JSON nested at most 10 levels/);
  });

  it('refuses 100,000 levels of arrays or objects without a RangeError', () => {
    expectDataError(() => checkJsonDepth(nested(100_000, 'array'), FILE), /contents: expected JSON nested at most 64 levels/);
    expectDataError(() => checkJsonDepth(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)), FILE), /deeper than 64 levels/);
  });
});

describe('checkWeightSpecsAgainstConfig', () => {
  const weight = (json: Json, name: string): Json => json['weightsManifest'][0].weights.find((w: Json) => w['name'] === name);

  it('rejects a Dense kernel whose last dimension disagrees with units', () => {
    const json = copy();
    weight(json, 'fc7/kernel').shape = [1024, 64];
    expectDataError(() => checkWeightSpecsAgainstConfig(json, FILE),
      /weightsManifest\[0\]\.weights\[21\] \('fc7\/kernel'\)\.shape: expected a last dimension equal to units of Dense 'fc7' \(128\), got "64 \(shape \[1024, 64\]\)"/);
  });

  it('rejects Conv2D and DepthwiseConv2D kernels disagreeing with filters / depth_multiplier', () => {
    const conv = copy();
    weight(conv, 'conv2/kernel').shape = [3, 3, 16, 16];
    expectDataError(() => checkWeightSpecsAgainstConfig(conv, FILE), /\('conv2\/kernel'\)\.shape: expected a last dimension equal to filters of Conv2D 'conv2' \(32\), got "16/);
    const dw = copy();
    weight(dw, 'dw4/depthwise_kernel').shape = [3, 3, 64, 2];
    expectDataError(() => checkWeightSpecsAgainstConfig(dw, FILE), /expected a last dimension equal to depthMultiplier of DepthwiseConv2D 'dw4' \(1\), got "2/);
  });

  it('rejects bad or huge weight shapes and ignores missing specs', () => {
    const bad = copy();
    weight(bad, 'conv1/kernel').shape = [3, 3, 1.5, 16];
    expectDataError(() => checkWeightSpecsAgainstConfig(bad, FILE), /weights\[0\] \('conv1\/kernel'\)\.shape\[2\]: expected an integer >= 0, got 1\.5/);
    const huge = copy();
    weight(huge, 'norm1/gamma').shape = [65536, 65536];
    expectDataError(() => checkWeightSpecsAgainstConfig(huge, FILE), /\('norm1\/gamma'\)\.shape: expected at most 268435456 elements, got 4294967296/);
    const missing = copy();
    missing['weightsManifest'][0].weights = missing['weightsManifest'][0].weights.filter((w: Json) => w['name'] !== 'fc7/kernel');
    expectPasses(() => checkWeightSpecsAgainstConfig(missing, FILE));
    delete missing['weightsManifest'];
    expectPasses(() => checkWeightSpecsAgainstConfig(missing, FILE));
  });
});
