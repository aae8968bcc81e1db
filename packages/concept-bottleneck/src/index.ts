export {
  conceptBottleneckOp,
  conceptHead,
  classLoss,
  conceptLoss,
  jointLoss,
  interventionArrays,
  applyInterventions,
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
