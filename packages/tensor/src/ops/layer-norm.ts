import * as tf from '@tensorflow/tfjs-core';
import { hasJsKernel, LAYER_NORM, LAYER_NORM_GRAD } from '../kernels/js-kernels';

/** The composite form (any backend): mean, biased variance, `(x − μ)/√(σ² + ε)·γ + β`. */
export function layerNormComposite(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon))), gamma), beta);
  });
}

function registerGradient(): void {
  if (tf.getGradient(LAYER_NORM)) return;
  tf.registerGradient({
    kernelName: LAYER_NORM,
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma] = saved as [tf.Tensor, tf.Tensor];
      // One kernel for all three gradients, run eagerly: the tape calls each input's
      // closure in its own tidy, which would dispose the siblings of a lazy result.
      const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy: dy as tf.Tensor, x, gamma }, attrs as never) as tf.Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
    },
  });
}

/**
 * LayerNorm over the last axis with `gamma`/`beta` of shape `[D]` (biased variance, as
 * torch). On wasm and cpu it is one fused kernel forward and one backward (instead of ≈9
 * and ≈20); elsewhere the composite form. Both agree within float32 rounding.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon = 1e-5): tf.Tensor {
  const D = x.shape[x.shape.length - 1];
  if (
    [x, gamma, beta].some((t) => t.dtype !== 'float32') ||
    gamma.rank !== 1 ||
    beta.rank !== 1 ||
    gamma.shape[0] !== D ||
    beta.shape[0] !== D ||
    !hasJsKernel(LAYER_NORM)
  ) {
    return layerNormComposite(x, gamma, beta, epsilon);
  }
  registerGradient();
  return tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { epsilon } as never) as tf.Tensor;
}
