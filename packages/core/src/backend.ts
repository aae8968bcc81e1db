import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from './errors.js';
import { registerConvGradKernels } from './conv-grad-kernels.js';
import './setup.js';

export type BackendName = 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];

/**
 * Loads and activates a tfjs backend. Throws BackendError when it cannot start: tfjs would
 * otherwise fall back to another backend silently.
 */
export async function initBackend(name: BackendName): Promise<BackendName> {
  if (!BACKENDS.includes(name)) {
    throw new BackendError({ op: 'initBackend' }, 'backend', "'wasm' or 'cpu'", name);
  }
  try {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    else await import('@tensorflow/tfjs-backend-cpu');
  } catch (err) {
    throw new BackendError(
      { op: 'initBackend' },
      'backend',
      `the package @tensorflow/tfjs-backend-${name} to be installed`,
      (err as Error).message,
    );
  }
  registerConvGradKernels(name);
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new BackendError({ op: 'initBackend' }, 'backend', `'${name}' active`, tf.getBackend() ?? 'none');
  }
  if (name === 'cpu') {
    // The cpu backend advertises tfjs-node on its first write in Node; we chose cpu on purpose.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
  return name;
}
