import * as tf from '@tensorflow/tfjs-core';

/**
 * `x [N, in] · w [in, out] + b [out]` as one plain 2-D matmul: callers flatten batch and
 * time into rows, because batched (3-D) matmuls are far slower on wasm. The gradient's
 * transposed products are served by core's wasm BatchMatMul override.
 */
export function dense(x: tf.Tensor2D, w: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  const y = tf.matMul(x, w as tf.Tensor2D) as tf.Tensor2D;
  return b ? tf.add<tf.Tensor2D>(y, b) : y;
}

/**
 * Rows of `table [rows, d]` picked by `ids [N]` int32, as a one-hot matmul: `gather` has
 * no gradient kernel on wasm, and the matmul takes the fast 2-D path both ways.
 */
export function lookup(table: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D {
  const rows = table.shape[0]!;
  return tf.matMul(tf.cast(tf.oneHot(ids, rows), 'float32') as tf.Tensor2D, table as tf.Tensor2D);
}

/** LayerNorm over the last axis (eps 1e-5, biased variance, as torch). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
}

const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * GELU, tanh approximation (GPT-2; torch `gelu(approximate='tanh')`), written as
 * `x · σ(2u)` = `0.5·x·(1 + tanh u)`: the same function, and wasm's Sigmoid kernel is much
 * faster than its Tanh.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  const twoU = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), 2 * GELU_C);
  return tf.mul(x, tf.sigmoid(twoU));
}

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
