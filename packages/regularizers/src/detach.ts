import * as tf from '@tensorflow/tfjs-core';

// tfjs-core has no stop-gradient op: an identity whose gradient is zero.
const stopGradientOp = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/** x with no gradient flowing back (PyTorch `.detach()`). Owned by the caller. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}
