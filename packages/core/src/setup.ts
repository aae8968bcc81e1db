/**
 * Importing @tinyblocks/core makes tfjs-core usable for training wherever it is loaded:
 * - tfjs-core's gradient registrations (absent from its CommonJS bundle, which plain Node loads),
 * - its chained tensor methods (x.sum(), ...), for code that uses them,
 * - conv gradient kernels for the wasm backend, which lacks them.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { registerConvGradKernels } from './conv-grad-kernels.js';

// The backend package may not be loaded yet: add only what wasm lacks; initBackend('wasm') also
// swaps in the faster replacements once the backend's own kernels are there.
registerConvGradKernels('wasm', { replace: false });
