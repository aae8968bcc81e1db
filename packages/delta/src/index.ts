export {
  deltaQuantize,
  deltaSparsityLoss,
  temporalSparsity,
  type DeltaQuantizeOptions,
  type SparsityLossOptions,
  type SparsityOptions,
} from './quantize.js';
export { Delta, deltaLayer, DELTA_GRANULARITIES, type DeltaArgs, type DeltaGranularity } from './layer.js';
export { DeltaDense, runDeltaDense, type DeltaDenseRun, type DeltaStats } from './delta-dense.js';
