export { buildReference, type ModelInfo, type OutputRole, type ReferenceOptions } from './reference.js';
export { ARCHITECTURES, buildArchitecture, buildTutorialCnn, type Architecture } from './architectures.js';
export { imageBatch, makeBatch, disposeBatch, range, IMAGE_SIZE, type Batch, type ImageSet } from './data.js';
export { retrainExits, tuneExitThresholds, exitProbabilities, holdOut, type ExitHeadSpec, type RetrainExitsOptions, type RetrainExitsResult } from './exits.js';
export { trainModel, compositeLoss, type TrainOptions, type TrainProgress, type TrainSummary } from './train.js';
export { evaluate, type EvalResult, type HeadAccuracy } from './evaluate.js';
export { modelInfo, infoMetadata, defaultExitThreshold } from './info.js';
export { shippedModelDir } from './shipped.js';
export { calibrateConceptInterventions } from './concepts.js';
export {
  calibrationBatches,
  quantizeWithImages,
  imageCodes,
  argmax,
  evaluateInt8,
  type QuantizeImagesOptions,
  type Int8EvalResult,
  type Int8HeadAccuracy,
  checkCalibrationValues,
} from './int8.js';
export {
  fineTuneQat,
  calibrateModelRanges,
  evaluateFakeQuant,
  type QatOptions,
  type QatSummary,
  type QatCalibration,
  type FakeQuantEvalOptions,
} from './qat.js';
