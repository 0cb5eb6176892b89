import * as tf from '@tensorflow/tfjs-core';
import { ADAM_UPDATE, hasJsKernel } from '../kernels/js-kernels';

export interface AdamStepOptions {
  /** Learning rate of this step. */
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Adam's bias-correction counter after this step (1-based). */
  t: number;
  weightDecay: number;
  /** 'adamw': θ·(1 − lr·wd) before the step; 'adam': wd·θ added to the gradient. */
  mode: 'adam' | 'adamw';
}

/** The composite form (any backend), torch's order of operations. */
export function adamStepComposite(x: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: AdamStepOptions): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const bc1 = 1 - o.beta1 ** o.t;
  const bc2 = 1 - o.beta2 ** o.t;
  return tf.tidy(() => {
    const grad = o.mode === 'adam' && o.weightDecay > 0 ? tf.add(g, tf.mul(x, o.weightDecay)) : g;
    const m1 = tf.add(tf.mul(m, o.beta1), tf.mul(grad, 1 - o.beta1));
    const v1 = tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(grad), 1 - o.beta2));
    const denom = tf.add(tf.sqrt(tf.div(v1, bc2)), o.eps);
    const step = tf.mul(tf.div(m1, denom), o.lr / bc1);
    const base = o.mode === 'adamw' && o.weightDecay > 0 ? tf.mul(x, 1 - o.lr * o.weightDecay) : x;
    return [tf.sub(base, step), m1, v1] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}

/**
 * One Adam/AdamW step of one variable: returns new `[θ, m, v]` (owned by the caller;
 * inputs borrowed). On wasm and cpu a single fused kernel (instead of ≈10), elsewhere the
 * composite form; the fused kernel rounds each intermediate to float32 as the composite
 * ops do. Not differentiable.
 */
export function adamStep(x: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: AdamStepOptions): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const same = [g, m, v].every((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, x.shape));
  if (x.dtype !== 'float32' || !same || !hasJsKernel(ADAM_UPDATE)) return adamStepComposite(x, g, m, v, o);
  const bc1 = 1 - o.beta1 ** o.t;
  const attrs = {
    stepSize: o.lr / bc1,
    beta1: o.beta1,
    beta2: o.beta2,
    eps: o.eps,
    bc2: 1 - o.beta2 ** o.t,
    decay: o.mode === 'adamw' && o.weightDecay > 0 ? 1 - o.lr * o.weightDecay : 1,
    l2: o.mode === 'adam' && o.weightDecay > 0 ? o.weightDecay : 0,
  };
  return tf.engine().runKernel(ADAM_UPDATE, { x, g, m, v }, attrs as never) as [tf.Tensor, tf.Tensor, tf.Tensor];
}
