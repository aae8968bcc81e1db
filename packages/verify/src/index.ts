export { type VerifyOptions, type VerifyProgress, type VerifyResult, type VerifyMismatch, type VerifyMode, verifyHost, formatVerifyLine } from './verify.js';
export { type BenchOptions, type BenchResult, BENCH_FLAGS, benchHost } from './bench.js';
export { VerifyError, VERIFY_BUILDS, type HostBuild } from './toolchain.js';
export { MODES, interventionsFor } from './harness.js';
export { type ModelDir, readModelDir } from './model-dir.js';
