export { EarlyExitHead, earlyExitHead, headPool, mixPool, POOLINGS, type EarlyExitHeadArgs, type EarlyExitHeadParams, type Pooling } from './head.js';
export { crossEntropy, earlyExitLoss, labelIndices, sdnLoss, sdnTauSchedule, type Labels } from './losses.js';
export { entropy, EXIT_RULES, exitRule, maxProbability, type ExitRule, type ExitRuleName, type ExitRuleOptions } from './rules.js';
export {
  earlyExitPredict,
  sweepThresholds,
  tuneThresholds,
  applyThresholds,
  headProbabilities,
  concatHeadProbabilities,
  type HeadProbabilities,
  THRESHOLD_CANDIDATES,
  type TunedThresholds,
  type EarlyExitOptions,
  type EarlyExitResult,
  type ExitCosts,
  type SamplePrediction,
  type SweepPoint,
  type SweepResult,
} from './predict.js';
