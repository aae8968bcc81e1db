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
