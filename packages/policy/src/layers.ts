import { dense as coreDense } from '@rftkit/tensor';
import * as tf from '@tensorflow/tfjs-core';

/**
 * `x [N, in] · w [in, out] + b [out]`: @rftkit/tensor's fused dense op (on wasm one SIMD kernel each
 * way, the bias seeding the matmul); callers flatten batch and time into rows.
 */
export function dense(x: tf.Tensor2D, w: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  return coreDense(x, w as tf.Tensor2D, b as tf.Tensor1D | undefined);
}

/**
 * Rows of `table [rows, d]` picked by `ids [N]` int32, as a one-hot matmul: `gather` has
 * no gradient kernel on wasm, and the matmul takes the fast 2-D path both ways.
 */
export function lookup(table: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D {
  const rows = table.shape[0]!;
  return tf.matMul(tf.cast(tf.oneHot(ids, rows), 'float32') as tf.Tensor2D, table as tf.Tensor2D);
}

/**
 * LayerNorm over the last axis (eps 1e-5, biased variance, as torch): @rftkit/tensor's fused op, one
 * kernel each way on wasm and cpu instead of ≈9 forward and ≈20 backward.
 */
export { layerNorm } from '@rftkit/tensor';

/**
 * GELU, tanh approximation (GPT-2; torch `gelu(approximate='tanh')`), as `x · σ(2u)`:
 * @rftkit/tensor's fused op (one SIMD kernel each way on wasm, instead of ≈6 forward and ≈15
 * backward).
 */
export { gelu } from '@rftkit/tensor';

/**
 * Rotary embedding (rotate-half convention, as GPT-NeoX/LLaMA): `x [..., dh]` with
 * `cos`/`sin` `[..., dh/2]` broadcastable to the halves of `x`.
 */
export function rotate(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const [x1, x2] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
  return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], -1);
}

/** `cos`/`sin` of position × inverse frequency: positions `[...]` → `[..., dh/2]` each. */
export function rotaryAngles(positions: tf.Tensor, headDim: number): { cos: tf.Tensor; sin: tf.Tensor } {
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 10000 ** (-(2 * i) / headDim);
  const angles = tf.mul(tf.expandDims(tf.cast(positions, 'float32'), -1), tf.tensor1d(invFreq));
  return { cos: tf.cos(angles), sin: tf.sin(angles) };
}
