// Shared body of the smoke scripts (top-level await is fine in ESM; CJS wraps it in an async IIFE).
await core.initBackend('wasm');
if (tf.getBackend() !== 'wasm') throw new Error(`backend is ${tf.getBackend()}, expected wasm`);
const input = tfl.input({ shape: [8, 8, 1] });
const seed = (s) => tfl.initializers.glorotUniform({ seed: s });
let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', kernelInitializer: seed(1) }).apply(input);
x = evonorm.evoNormB0Layer().apply(x);
x = crrelu.crreluLayer().apply(x);
x = tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthwiseInitializer: seed(2) }).apply(x);
x = evonorm.evoNormS0Layer({ groups: 4 }).apply(x);
x = polycom.polyReLULayer().apply(x);
const early = exit.earlyExitHead({ numClasses: 4 }).apply(x);
x = tfl.layers.flatten().apply(x);
x = delta.deltaLayer({ timeAxis: 0 }).apply(x);
x = tfl.layers.dense({ units: 16, kernelInitializer: seed(3) }).apply(x);
x = polycom.polyNormLayer().apply(x);
const [logits, concepts] = cbm.conceptBottleneck({ numConcepts: 3, numClasses: 4 }).apply(x);
const model = tfl.model({ inputs: input, outputs: [logits, early, concepts] });

const xs = tf.randomUniform([6, 8, 8, 1], 0, 1, 'float32', 7);
const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32'), 4);
const opt = tf.train.adam(0.01);
const loss = () => {
  const [l, e] = model.apply(xs, { training: true });
  const aux = core.collectAuxLosses(model);
  const ce = tf.add(tf.losses.softmaxCrossEntropy(ys, l), tf.losses.softmaxCrossEntropy(ys, e));
  return aux ? tf.add(ce, aux) : ce;
};
const before = tf.tidy(() => loss().dataSync()[0]);
opt.minimize(loss, false, model.trainableWeights.map((w) => w.val));
const after = tf.tidy(() => loss().dataSync()[0]);
if (!(after < before)) throw new Error(`one training step did not lower the loss: ${before} -> ${after}`);

const fs2 = await import('node:fs');
const os2 = await import('node:os');
const path2 = await import('node:path');
const dir = fs2.mkdtempSync(path2.join(os2.tmpdir(), 'smoke-model-'));
await nodeIo.saveModel(model, path2.join(dir, 'm'));
const loaded = await nodeIo.loadModel(path2.join(dir, 'm'));
const a = model.predict(xs).map((t) => Array.from(t.dataSync()));
const b = loaded.predict(xs).map((t) => Array.from(t.dataSync()));
if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('loaded model predicts differently');
fs2.rmSync(dir, { recursive: true, force: true });
console.log(`${FLAVOUR}: wasm, ${model.layers.length} layers, loss ${before.toFixed(4)} -> ${after.toFixed(4)}, save/load identical`);
