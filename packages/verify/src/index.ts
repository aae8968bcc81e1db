export { type VerifyOptions, type VerifyProgress, type VerifyResult, type VerifyMismatch, type VerifyMode, verifyHost, formatVerifyLine } from './verify.js';
export { type BenchOptions, type BenchResult, BENCH_FLAGS, benchHost } from './bench.js';
export { VerifyError, VERIFY_BUILDS, type HostBuild } from './toolchain.js';
export { MODES, interventionsFor } from './harness.js';
export { type ModelDir, readModelDir } from './model-dir.js';
export {
  type CortexMOptions,
  type CortexMResult,
  type CortexMMismatch,
  type CortexMMode,
  type CortexMLayerInstructions,
  verifyCortexM,
  formatCortexMLine,
} from './cortex-m/verify-cortex-m.js';
export { CORTEX_M_TARGETS, TARGET_INFO as CORTEX_M_TARGET_INFO, type CortexMTarget, type CortexMTargetInfo } from './cortex-m/targets.js';
export { CORTEX_M_INSTALL, missingCortexMTools, type ArmTools } from './cortex-m/tools.js';
export { benchKernelsCortexM, formatKernelBench, type KernelBenchRow } from './cortex-m/kernel-bench.js';
