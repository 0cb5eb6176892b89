import * as tf from '@tensorflow/tfjs-core';

/** The composite form: `w · x / sqrt(mean(x²) + eps)` over the last axis (LlamaRMSNorm, float32). */
export function rmsNormComposite(x: tf.Tensor, weight: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.tidy(() => {
    const variance = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, epsilon))), weight);
  });
}

/**
 * RMSNorm over the last axis with `weight` `[D]`. The same values as the composite form, bit
 * for bit; its backward pass keeps only `x` and `weight` (autodiff of the composite keeps x²,
 * the variance, 1/rms and x/rms: two extra activations of x's size per norm) and recomputes
 * 1/rms:
 *   dx = r·(g − x̂·mean(g·x̂)),  dw = Σ dy·x̂,  with g = dy·w, r = 1/rms, x̂ = x·r.
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, epsilon: number): tf.Tensor {
  const D = x.shape[x.shape.length - 1]!;
  if (weight.rank !== 1 || weight.shape[0] !== D) throw new Error(`rmsNorm: weight must be [${D}], got [${weight.shape}]`);
  // Without a gradient tape there is nothing to save: the composite alone, one wrapper less.
  if (!tf.engine().isTapeOn()) return rmsNormComposite(x, weight, epsilon);
  const op = tf.customGrad((xs, w, save) => {
    (save as tf.GradSaveFunc)([xs as tf.Tensor, w as tf.Tensor]);
    return {
      value: rmsNormComposite(xs as tf.Tensor, w as tf.Tensor, epsilon),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xv, wv] = saved as [tf.Tensor, tf.Tensor];
          const r = tf.rsqrt(tf.add(tf.mean(tf.square(xv), -1, true), epsilon));
          const xhat = tf.mul(xv, r);
          const g = tf.mul(dy, wv);
          const dx = tf.mul(r, tf.sub(g, tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))));
          const dw = tf.sum(tf.reshape(tf.mul(dy, xhat), [-1, D]), 0);
          return [dx, dw];
        }),
    };
  });
  return op(x, weight);
}
