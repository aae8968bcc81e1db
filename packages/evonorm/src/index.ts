export { evoNormS0, type EvoNormS0Options } from './s0.js';
export { evoNormB0, batchVariance, type EvoNormB0Options } from './b0.js';
export { resolveGroups, EVONORM_DEFAULT_EPS, EVONORM_DEFAULT_GROUPS, EVONORM_DEFAULT_MOMENTUM } from './shared.js';
export {
  EvoNormB0,
  EvoNormS0,
  evoNormB0Layer,
  evoNormS0Layer,
  type EvoNormB0Args,
  type EvoNormS0Args,
  type EvoNormParams,
} from './layer.js';
