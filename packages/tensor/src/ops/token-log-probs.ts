import * as tf from '@tensorflow/tfjs-core';
import { hasJsKernel, TOKEN_LOGP, TOKEN_LOGP_GRAD } from '../kernels/js-kernels';
import { logSoftmax } from '@rftkit/core';

export interface TokenLogProbs {
  /** log p(target) under softmax(logits / T), shape of `targets`. */
  logp: tf.Tensor;
  /** Entropy of softmax(logits / T), shape of `targets`. */
  entropy: tf.Tensor;
}

/** The composite form (any backend): one log-softmax shared by both. */
export function tokenLogProbsComposite(logits: tf.Tensor, targets: tf.Tensor, temperature = 1): TokenLogProbs {
  return tf.tidy(() => {
    const logpAll = logSoftmax(logits, temperature);
    const logp = tf.sum(tf.mul(logpAll, tf.oneHot(tf.cast(targets, 'int32'), logits.shape[logits.shape.length - 1]!)), -1);
    const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logpAll), logpAll), -1));
    return { logp, entropy };
  });
}

function registerGradient(): void {
  if (tf.getGradient(TOKEN_LOGP)) return;
  tf.registerGradient({
    kernelName: TOKEN_LOGP,
    inputsToSave: ['logits', 'targets'],
    gradFunc: (dys, saved, attrs) => {
      const [logits, targets] = saved as [tf.Tensor, tf.Tensor];
      const [dlogp, dentropy] = dys as tf.Tensor[];
      return {
        logits: () => tf.engine().runKernel(TOKEN_LOGP_GRAD, { dlogp: dlogp!, dentropy: dentropy!, logits, targets }, attrs as never) as tf.Tensor,
        targets: () => tf.zeros(targets.shape),
      };
    },
  });
}

/**
 * Per position of `logits [..., V]`: the log-probability of `targets [...]` (int32) and the
 * entropy, both of softmax(logits / temperature), differentiable in `logits`. On wasm and
 * cpu one fused kernel forward and one backward (instead of ≈17 and ≈35); elsewhere the
 * composite form. Both agree within float32 rounding.
 */
export function tokenLogProbs(logits: tf.Tensor, targets: tf.Tensor, temperature = 1): TokenLogProbs {
  const lead = logits.shape.slice(0, -1);
  if (logits.dtype !== 'float32' || targets.dtype !== 'int32' || !tf.util.arraysEqual(lead, targets.shape) || !hasJsKernel(TOKEN_LOGP)) {
    return tokenLogProbsComposite(logits, targets, temperature);
  }
  registerGradient();
  const [logp, entropy] = tf.engine().runKernel(TOKEN_LOGP, { logits, targets }, { temperature } as never) as tf.Tensor[];
  return { logp: logp!, entropy: entropy! };
}

/**
 * The gradient of `tokenLogProbs` in `logits [..., V]` given `dlogp` and `dentropy` (shape of
 * `targets`): `(dlogp·(onehot − p) − dentropy·p·(log p + H)) / T`. On wasm and cpu the fused
 * backward kernel; elsewhere the composite form.
 */
export function tokenLogProbsGrad(logits: tf.Tensor, targets: tf.Tensor, dlogp: tf.Tensor, dentropy: tf.Tensor, temperature = 1): tf.Tensor {
  const lead = logits.shape.slice(0, -1);
  if (logits.dtype === 'float32' && targets.dtype === 'int32' && tf.util.arraysEqual(lead, targets.shape) && hasJsKernel(TOKEN_LOGP_GRAD)) {
    return tf.engine().runKernel(TOKEN_LOGP_GRAD, { dlogp, dentropy, logits, targets }, { temperature } as never) as tf.Tensor;
  }
  return tf.tidy(() => {
    const V = logits.shape[logits.shape.length - 1]!;
    const logpAll = logSoftmax(logits, temperature);
    const p = tf.exp(logpAll);
    const H = tf.neg(tf.sum(tf.mul(p, logpAll), -1, true));
    const onehot = tf.oneHot(tf.cast(targets, 'int32'), V);
    const g1 = tf.mul(tf.expandDims(dlogp, -1), tf.sub(onehot, p));
    const g2 = tf.mul(tf.expandDims(dentropy, -1), tf.mul(p, tf.add(logpAll, H)));
    return tf.div(tf.sub(g1, g2), temperature);
  });
}
