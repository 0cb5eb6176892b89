import * as tf from '@tensorflow/tfjs-core';

/**
 * `n` floats uniform in [−scale, scale) from a 32-bit LCG seeded with `seed`: the same
 * values on every backend and platform (tfjs' random ops differ between backends).
 */
export function seededUniform(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(n).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

/** A float32 tensor of `shape` filled by `seededUniform`. */
export function seededTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(seededUniform(shape.reduce((a, b) => a * b, 1), seed, scale), shape);
}
