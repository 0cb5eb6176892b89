import { ShapeError } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';

/** Identity whose gradient is zero: torch's `.detach()` inside a differentiated function. */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/** Throws a `ShapeError` unless every tensor has the shape of the first. */
export function checkSameShape(where: string, tensors: Record<string, tf.Tensor>): void {
  const entries = Object.entries(tensors);
  const [firstName, first] = entries[0]!;
  if (first.rank !== 2) throw new ShapeError(where, `${firstName} must be 2-D [rows, seqLen], got shape [${first.shape}]`);
  for (const [name, t] of entries.slice(1)) {
    if (t.shape.length !== 2 || t.shape[0] !== first.shape[0] || t.shape[1] !== first.shape[1]) {
      throw new ShapeError(where, `${name} has shape [${t.shape}], expected [${first.shape}] like ${firstName}`);
    }
  }
}

/** Σ x·m / (Σ m + 1e-8) as a scalar; 0 when nothing is masked in. */
export function maskedMeanScalar(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(x, mask)), tf.add(tf.sum(mask), 1e-8)) as tf.Scalar);
}

/** Fraction of masked-in tokens where `cond` holds. */
export function maskedFraction(cond: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => maskedMeanScalar(tf.cast(cond, 'float32'), mask));
}

/** Log-ratio to the old policy, clamped to ±20 as verl does before exponentiating. */
export function clampedLogRatio(logp: tf.Tensor, oldLogp: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.clipByValue(tf.sub(logp, oldLogp), -20, 20));
}

/**
 * Metrics every policy loss reports, from the clamped log-ratio lr = log π − log π_old (no
 * gradient): `approx_kl` (k3 estimate e^{−lr} + lr − 1 of KL to the old policy), `ratio/mean`,
 * `ratio/max` over the masked tokens.
 */
export function ratioMetrics(logRatio: tf.Tensor, mask: tf.Tensor): Record<string, tf.Scalar> {
  return tf.tidy(() => {
    const lr = stopGradient(logRatio);
    const ratio = tf.exp(lr);
    const k3 = tf.sub(tf.add(tf.exp(tf.neg(lr)), lr), 1);
    return {
      approx_kl: maskedMeanScalar(k3, mask),
      'ratio/mean': maskedMeanScalar(ratio, mask),
      // ratio > 0, so masked-out zeros never win unless nothing is masked in.
      'ratio/max': tf.max(tf.mul(ratio, mask)) as tf.Scalar,
    };
  });
}
