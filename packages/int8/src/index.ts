export {
  INT32_MIN,
  INT32_MAX,
  INT8_MIN,
  INT8_MAX,
  type QuantizedMultiplier,
  roundHalfAway,
  quantizeMultiplier,
  multiplierToReal,
  saturatingRoundingDoublingHighMul,
  roundingDivideByPOT,
  multiplyByQuantizedMultiplier,
  clamp,
  saturateInt8,
  saturateInt32,
  requantize,
} from './fixed-point.js';
export {
  type QuantParams,
  type QuantRange,
  type PerChannelWeights,
  chooseQuantParams,
  quantizeValue,
  dequantizeValue,
  quantizeArray,
  dequantizeArray,
  quantizeWeightsPerChannel,
  quantizeBias,
} from './affine.js';
export { evalOnGrid, buildLut, applyLut, codeHistogram } from './lut.js';
export * from './graph.js';
export type { OpDef, RunContext, RunResult, EmitContext, EmittedC } from './op.js';
export { OPS, opOf, registerOp, validateGraph } from './registry.js';
export { runGraph, createStream, type RunOptions, type RunOutput, type Stream } from './interpreter.js';
export * from './ops/conv2d.js';
export * from './ops/depthwise-conv2d.js';
export * from './ops/dense.js';
export * from './ops/avg-pool2d.js';
export * from './ops/max-pool2d.js';
export * from './ops/softmax.js';
export * from './ops/pad2d.js';
export * from './ops/upsample2d.js';
export * from './ops/concat.js';
export * from './ops/add.js';
export * from './ops/lut.js';
export * from './ops/reshape.js';
export * from './ops/evonorm-b0.js';
export * from './ops/evonorm-s0.js';
export * from './ops/polynorm.js';
export * from './ops/mix-pool.js';
export * from './ops/exit-decision.js';
export * from './ops/concept-intervene.js';
export * from './ops/delta-dense.js';
