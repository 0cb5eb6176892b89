import * as tf from '@tensorflow/tfjs-core';
import { EMBEDDING_GRAD, hasJsKernel } from '../kernels/js-kernels';

/**
 * The composite form: tfjs' UnsortedSegmentSum (any backend that has it; wasm does not). Rows
 * of ids outside `[0, vocab)` are zeroed and sent to row 0, since TensorFlow's kernel
 * rejects such ids where tfjs' JavaScript one drops them.
 */
export function embeddingGradComposite(dy: tf.Tensor2D, ids: tf.Tensor1D, vocab: number): tf.Tensor2D {
  return tf.tidy(() => {
    const i = tf.cast(ids, 'int32');
    const valid = tf.logicalAnd(tf.greaterEqual(i, 0), tf.less(i, vocab));
    const safe = tf.where(valid, i, tf.zerosLike(i));
    const rows = tf.mul(dy, tf.expandDims(tf.cast(valid, dy.dtype), 1));
    return tf.unsortedSegmentSum(rows, safe, vocab) as tf.Tensor2D;
  });
}

/**
 * The gradient of an embedding lookup `table[ids]`: `out[v] = Σ_{i: ids[i] = v} dy[i]`,
 * `[vocab, d]`, not differentiable. On wasm and cpu one scatter-add kernel over `dy`'s rows
 * (O(N·d) work, where a one-hot product is O(N·vocab·d)); elsewhere UnsortedSegmentSum.
 * Ids outside `[0, vocab)` add nothing, as UnsortedSegmentSum.
 */
export function embeddingGrad(dy: tf.Tensor2D, ids: tf.Tensor1D, vocab: number): tf.Tensor2D {
  if (dy.dtype !== 'float32' || !hasJsKernel(EMBEDDING_GRAD)) return embeddingGradComposite(dy, ids, vocab);
  return tf.tidy(() => tf.engine().runKernel(EMBEDDING_GRAD, { dy, ids: tf.cast(ids, 'int32') }, { vocab } as never) as tf.Tensor2D);
}
