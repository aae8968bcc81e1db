import * as tf from '@tensorflow/tfjs-core';

export interface CustomOpResult {
  value: tf.Tensor;
  /** Gradients for each input, in input order, from dy and the saved tensors. */
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
}

/**
 * tf.customGrad with typed, positional inputs: `forward(save, ...inputs)`. Keeps an op's
 * forward and its hand-written gradient side by side; the gradient runs on any backend.
 */
export function customOp<A extends tf.Tensor[]>(
  forward: (save: tf.GradSaveFunc, ...inputs: A) => CustomOpResult,
): (...inputs: A) => tf.Tensor {
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    return forward(save, ...(args as A));
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (...inputs: A) => op(...inputs);
}
