export {
  conceptBottleneckOp,
  conceptHead,
  classLoss,
  conceptLoss,
  jointLoss,
  interventionArrays,
  applyInterventions,
  cbmForward,
  interventionTargets,
  BOTTLENECKS,
  DEFAULT_INTERVENTION_LOGITS,
  type Bottleneck,
  type CbmOptions,
  CBM_DEFAULT_LAMBDA,
  BCE_EPS,
  type CbmParams,
  type Interventions,
} from './cbm.js';
export {
  ConceptBottleneck,
  conceptBottleneck,
  type ConceptBottleneckArgs,
  type ConceptBottleneckParams,
  type TrainableParts,
} from './layer.js';
export { intervene, findConceptBottleneck } from './intervene.js';
