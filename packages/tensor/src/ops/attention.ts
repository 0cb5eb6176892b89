import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@rftkit/core';
import { ATTENTION, ATTENTION_GRAD, hasJsKernel } from '../kernels/js-kernels';

export interface AttentionOptions {
  /** Heads the last axis of `q` holds side by side (`H·dh`). */
  heads: number;
  /**
   * Heads of `k` and `v` (`KH·dh`), dividing `heads`: grouped-query attention, query head
   * `h` reads kv head `h / (heads/kvHeads)` (transformers' `repeat_kv`). Default `heads`.
   */
  kvHeads?: number;
  /** Query `i` sees keys `j ≤ i + Tk − Tq` only (Tk: `keyLength` when given). */
  causal: boolean;
  /**
   * Keys that exist, the first `keyLength ≤ Tk` of `k`/`v`/`keyMask` (a KV cache filled
   * that far); the others are never read. Default Tk.
   */
  keyLength?: number;
}

/** Additive score bias for hidden keys; finite so a query with no visible key stays NaN-free. */
const HIDDEN = -1e9;

/**
 * The composite form (any backend): split heads, `softmax(q·kᵀ/√dh + bias)·v`, merge heads.
 * Grouped queries fold into the rows of their kv head (`[B, KH, g·Tq, dh]`), so keys and
 * values are never repeated.
 */
export function attentionComposite(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  keyMask: tf.Tensor2D,
  options: AttentionOptions,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, Tq, D] = q.shape;
    const Tk = options.keyLength ?? k.shape[1];
    // Only the first Tk keys exist.
    const keys = (x: tf.Tensor3D) => (Tk < x.shape[1] ? tf.slice(x, [0, 0, 0], [B, Tk, -1]) : x);
    const mask = Tk < keyMask.shape[1] ? tf.slice(keyMask, [0, 0], [B, Tk]) : keyMask;
    const H = options.heads;
    const KH = options.kvHeads ?? H;
    const g = H / KH;
    const dh = D / H;
    // q [B, Tq, KH, g, dh] → [B, KH, g·Tq, dh]; k, v [B, Tk, KH, dh] → [B, KH, Tk, dh].
    const qs = tf.reshape(tf.transpose(tf.reshape(q, [B, Tq, KH, g, dh]), [0, 2, 3, 1, 4]), [B, KH, g * Tq, dh]);
    const split = (x: tf.Tensor3D) => tf.transpose(tf.reshape(x, [B, Tk, KH, dh]), [0, 2, 1, 3]);
    const scores = tf.reshape(tf.mul(tf.matMul(qs, split(keys(k)), false, true), 1 / Math.sqrt(dh)), [B, KH, g, Tq, Tk]);
    let visible: tf.Tensor = tf.reshape(mask, [B, 1, 1, 1, Tk]);
    if (options.causal) {
      const allowed = new Float32Array(Tq * Tk);
      for (let i = 0; i < Tq; i++) for (let j = 0; j <= Math.min(Tk - 1, i + Tk - Tq); j++) allowed[i * Tk + j] = 1;
      visible = tf.mul(visible, tf.tensor2d(allowed, [Tq, Tk]));
    }
    const probs = tf.reshape(tf.softmax(tf.add(scores, tf.mul(tf.sub(1, visible), HIDDEN))), [B, KH, g * Tq, Tk]);
    const out = tf.reshape(tf.matMul(probs, split(keys(v))), [B, KH, g, Tq, dh]);
    return tf.reshape(tf.transpose(out, [0, 3, 1, 2, 4]), [B, Tq, D]) as tf.Tensor3D;
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
 * Multi-head scaled dot-product attention on `q [B, Tq, H·dh]`, `k`/`v` `[B, Tk, KH·dh]`
 * (heads side by side, as the projections produce them; `KH = kvHeads` kv heads, each read
 * by `H/KH` query heads) with `keyMask [B, Tk]` (1 visible,
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
  const [B, , D] = q.shape;
  const Tk = k.shape[1];
  const H = options.heads;
  const KH = options.kvHeads ?? H;
  const dh = D / H;
  if (
    !Number.isInteger(H) ||
    H < 1 ||
    D % H !== 0 ||
    !Number.isInteger(KH) ||
    KH < 1 ||
    H % KH !== 0 ||
    !tf.util.arraysEqual(k.shape, [B, Tk, KH * dh]) ||
    !tf.util.arraysEqual(v.shape, [B, Tk, KH * dh]) ||
    !tf.util.arraysEqual(keyMask.shape, [B, Tk]) ||
    !(options.keyLength === undefined || (Number.isInteger(options.keyLength) && options.keyLength >= 1 && options.keyLength <= Tk))
  ) {
    throw new ShapeError(
      'attention',
      `expected q [B,Tq,heads·dh], k/v [B,Tk,kvHeads·dh], keyMask [B,Tk] with kvHeads dividing heads ` +
        `and 1 ≤ keyLength ≤ Tk; got heads=${H}, kvHeads=${KH}, keyLength=${options.keyLength ?? 'Tk'}, q [${q.shape}], k [${k.shape}], v [${v.shape}], keyMask [${keyMask.shape}]`,
    );
  }
  if ([q, k, v, keyMask].some((t) => t.dtype !== 'float32') || !hasJsKernel(ATTENTION)) {
    return attentionComposite(q, k, v, keyMask, options);
  }
  registerGradient();
  const [out, probs] = tf.engine().runKernel(ATTENTION, { q, k, v, keyMask }, { heads: options.heads, causal: options.causal, keyLength: options.keyLength ?? Tk } as never) as tf.Tensor[];
  probs!.dispose();
  return out as tf.Tensor3D;
}
