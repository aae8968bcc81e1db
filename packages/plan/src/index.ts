export {
  type PlanBuffer,
  type PlanOptions,
  type PlanOrder,
  type PlanFit,
  type PlanMethod,
  type BufferPlan,
  ORDERS,
  FITS,
  alignUp,
  planBuffers,
} from './buffers.js';
export { type ArenaPlan, type ArenaPlanOptions, type ArenaBuffer, planArena } from './arena.js';
export {
  CORES,
  type Core,
  type Board,
  BOARDS,
  boardPreset,
  parseBytes,
  type Budget,
  type Footprint,
  BudgetError,
  peakNode,
  checkBudget,
} from './budget.js';
