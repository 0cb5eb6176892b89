import * as tf from '@tensorflow/tfjs-core';
import { hasJsKernel, SUM_OF_SQUARES } from '../kernels/js-kernels';

/** The composite form (any backend). */
export function sumOfSquaresComposite(tensors: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => (tensors.length ? tf.addN(tensors.map((t) => tf.sum(tf.square(t)))) : tf.scalar(0))) as tf.Scalar;
}

/**
 * Σ x² over every element of every tensor (the squared global norm of a gradient list),
 * not differentiable. On wasm and cpu one kernel (accumulated in double) instead of
 * 2·n + 1; elsewhere the composite form.
 */
export function sumOfSquares(tensors: tf.Tensor[]): tf.Scalar {
  if (!tensors.length || tensors.some((t) => t.dtype !== 'float32') || !hasJsKernel(SUM_OF_SQUARES)) {
    return sumOfSquaresComposite(tensors);
  }
  const inputs = Object.fromEntries(tensors.map((t, i) => [`t${i}`, t]));
  return tf.engine().runKernel(SUM_OF_SQUARES, inputs) as tf.Scalar;
}
