import * as tf from '@tensorflow/tfjs-core';

/**
 * Masked reductions used by every estimator, loss and regularizer. `mask` holds 1 for
 * positions that count and 0 for padding (fractional weights are allowed). Inputs are
 * borrowed; results are owned by the caller.
 */

const EPS = 1e-8;

export function maskedSum(x: tf.Tensor, mask: tf.Tensor, axis?: number): tf.Tensor {
  return tf.tidy(() => tf.sum(tf.mul(x, mask), axis));
}

/** Σ x·m / Σ m. A fully masked slice gives 0, not NaN. */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor, axis?: number): tf.Tensor {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(x, mask), axis), tf.add(tf.sum(mask, axis), EPS)));
}

/**
 * Masked variance over all masked positions. `unbiased` applies Bessel's correction
 * n/(n−1) with n = Σ m (skipped when n ≤ 1).
 */
export function maskedVariance(x: tf.Tensor, mask: tf.Tensor, unbiased = true): tf.Scalar {
  return tf.tidy(() => {
    const mean = maskedMean(x, mask);
    const centered = tf.sub(x, mean);
    const variance = maskedMean(tf.square(centered), mask) as tf.Scalar;
    if (!unbiased) return variance;
    const n = tf.sum(mask);
    const correction = tf.where(tf.greater(n, 1), tf.div(n, tf.sub(n, 1)), tf.onesLike(n));
    return tf.mul(variance, correction) as tf.Scalar;
  });
}

/**
 * (x − mean) / sqrt(var + 1e-8) over masked positions (unbiased variance, as verl's
 * `masked_whiten`); with `shiftMean: false` the mean is added back. Padding stays 0.
 */
export function maskedWhiten(x: tf.Tensor, mask: tf.Tensor, options: { shiftMean?: boolean } = {}): tf.Tensor {
  const shiftMean = options.shiftMean ?? true;
  return tf.tidy(() => {
    const mean = maskedMean(x, mask);
    const variance = maskedVariance(x, mask, true);
    let out = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, EPS)));
    if (!shiftMean) out = tf.add(out, mean);
    return tf.mul(out, mask);
  });
}

function tempered(logits: tf.Tensor, temperature: number): tf.Tensor {
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  return temperature === 1 ? logits : tf.div(logits, temperature);
}

/** log softmax(logits / T) over the last axis. */
export function logSoftmax(logits: tf.Tensor, temperature = 1): tf.Tensor {
  return tf.tidy(() => {
    const z = tempered(logits, temperature);
    return tf.sub(z, tf.logSumExp(z, -1, true));
  });
}

/** Exact entropy −Σ_v p(v) log p(v) of softmax(logits / T) over the last axis. */
export function entropyFromLogits(logits: tf.Tensor, temperature = 1): tf.Tensor {
  return tf.tidy(() => {
    const logp = logSoftmax(logits, temperature);
    return tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1));
  });
}

/**
 * log softmax(logits / T)[ids] for every position: logits `[..., V]`, ids `[...]` int32.
 * Uses a one-hot product rather than `gather` so the gradient exists on every backend.
 */
export function gatherLogProbs(logits: tf.Tensor, ids: tf.Tensor, temperature = 1): tf.Tensor {
  return tf.tidy(() => {
    const vocab = logits.shape[logits.shape.length - 1]!;
    const logp = logSoftmax(logits, temperature);
    return tf.sum(tf.mul(logp, tf.oneHot(tf.cast(ids, 'int32'), vocab)), -1);
  });
}
