import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@rftkit/core';
import { ATTENTION, ATTENTION_GRAD, hasJsKernel } from '../kernels/js-kernels';

export interface AttentionOptions {
  /** Heads the last axis holds side by side (`H·dh`). */
  heads: number;
  /** Query `i` sees keys `j ≤ i + Tk − Tq` only. */
  causal: boolean;
}

/** Additive score bias for hidden keys; finite so a query with no visible key stays NaN-free. */
const HIDDEN = -1e9;

/** The composite form (any backend): split heads, `softmax(q·kᵀ/√dh + bias)·v`, merge heads. */
export function attentionComposite(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  keyMask: tf.Tensor2D,
  options: AttentionOptions,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, Tq, D] = q.shape;
    const Tk = k.shape[1];
    const H = options.heads;
    const dh = D / H;
    const split = (x: tf.Tensor3D, T: number) => tf.transpose(tf.reshape(x, [B, T, H, dh]), [0, 2, 1, 3]);
    const scores = tf.mul(tf.matMul(split(q, Tq), split(k, Tk), false, true), 1 / Math.sqrt(dh));
    let visible: tf.Tensor = tf.reshape(keyMask, [B, 1, 1, Tk]);
    if (options.causal) {
      const allowed = new Float32Array(Tq * Tk);
      for (let i = 0; i < Tq; i++) for (let j = 0; j <= Math.min(Tk - 1, i + Tk - Tq); j++) allowed[i * Tk + j] = 1;
      visible = tf.mul(visible, tf.tensor2d(allowed, [Tq, Tk]));
    }
    const probs = tf.softmax(tf.add(scores, tf.mul(tf.sub(1, visible), HIDDEN)));
    const out = tf.matMul(probs, split(v, Tk));
    return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [B, Tq, D]) as tf.Tensor3D;
  });
}

function registerGradient(): void {
  if (tf.getGradient(ATTENTION)) return;
  tf.registerGradient({
    kernelName: ATTENTION,
    inputsToSave: ['q', 'k', 'v', 'keyMask'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => {
      const [q, k, v, keyMask, probs] = saved as tf.Tensor[];
      const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      // One kernel for the three gradients, run eagerly (see layerNorm's gradient).
      const [dq, dk, dv] = tf.engine().runKernel(ATTENTION_GRAD, { dy, q: q!, k: k!, v: v!, probs: probs! }, attrs as never) as tf.Tensor[];
      return { q: () => dq!, k: () => dk!, v: () => dv!, keyMask: () => tf.zerosLike(keyMask!) };
    },
  });
}

/**
 * Multi-head scaled dot-product attention on `q [B, Tq, H·dh]`, `k`/`v` `[B, Tk, H·dh]`
 * (heads side by side, as the projections produce them) with `keyMask [B, Tk]` (1 visible,
 * 0 hidden), returning `[B, Tq, H·dh]`; with `causal`, query `i` sees keys up to
 * `i + Tk − Tq`. Differentiable in q, k and v. On wasm one SIMD kernel each way, on cpu one
 * JavaScript kernel (instead of ≈12 kernels forward and ≈30 backward, head split/merge
 * transposes included); elsewhere the composite form. All agree within float32 rounding.
 */
export function attention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  keyMask: tf.Tensor2D,
  options: AttentionOptions,
): tf.Tensor3D {
  const [B, Tq, D] = q.shape;
  const Tk = k.shape[1];
  if (
    !Number.isInteger(options.heads) ||
    options.heads < 1 ||
    D % options.heads !== 0 ||
    !tf.util.arraysEqual(k.shape, [B, Tk, D]) ||
    !tf.util.arraysEqual(v.shape, [B, Tk, D]) ||
    !tf.util.arraysEqual(keyMask.shape, [B, Tk])
  ) {
    throw new ShapeError(
      'attention',
      `expected q [B,Tq,D], k/v [B,Tk,D], keyMask [B,Tk] with D divisible by heads=${options.heads}; ` +
        `got q [${q.shape}], k [${k.shape}], v [${v.shape}], keyMask [${keyMask.shape}]`,
    );
  }
  if ([q, k, v, keyMask].some((t) => t.dtype !== 'float32') || !hasJsKernel(ATTENTION)) {
    return attentionComposite(q, k, v, keyMask, options);
  }
  registerGradient();
  const [out, probs] = tf.engine().runKernel(ATTENTION, { q, k, v, keyMask }, { heads: options.heads, causal: options.causal } as never) as tf.Tensor[];
  probs!.dispose();
  return out as tf.Tensor3D;
}
