import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@rftkit/core';
import { simdKernels } from '../kernels/simd';
import { DENSE, DENSE_GRAD, wasmDenseKernels } from '../kernels/wasm-dense';
import { isWasmBackend } from '../kernels/wasm-internals';

/** The composite form (any backend): `matMul(x, w)`, plus `b` when given. */
export function denseComposite(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy((): tf.Tensor2D => {
    const y = tf.matMul(x, w) as tf.Tensor2D;
    return b ? (tf.add(y, b) as tf.Tensor2D) : y;
  });
}

function register(): void {
  if (tf.getKernel(DENSE, 'wasm')) return;
  for (const k of wasmDenseKernels) tf.registerKernel(k);
  tf.registerGradient({
    kernelName: DENSE,
    inputsToSave: ['x', 'w'],
    gradFunc: (dy, saved, attrs) => {
      const [x, w] = saved as [tf.Tensor, tf.Tensor];
      // One kernel for every gradient, run eagerly (see layerNorm's gradient).
      const [dx, dw, db] = tf.engine().runKernel(DENSE_GRAD, { dy: dy as tf.Tensor, x, w }, attrs as never) as tf.Tensor[];
      return { x: () => dx!, w: () => dw!, ...(db ? { b: () => db } : {}) };
    },
  });
}

/**
 * A dense layer, `x [N, in] · w [in, out] + b [out]` (bias optional), differentiable in all
 * three. On wasm with rftkit's SIMD kernels it is one kernel forward (the bias seeds the
 * matmul) and one backward (`dy·wᵀ`, `xᵀ·dy`, `Σ dy`), instead of ≈2 and ≈6 tfjs kernels
 * plus the tape's bookkeeping; elsewhere the composite form. Both agree within float32
 * rounding.
 */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0] || (b && (b.rank !== 1 || b.shape[0] !== w.shape[1]))) {
    throw new ShapeError(
      'dense',
      `expected x [N,in], w [in,out] and b [out]; got x [${x.shape}], w [${w.shape}]${b ? `, b [${b.shape}]` : ''}`,
    );
  }
  const backend = tf.backend();
  if ([x, w, ...(b ? [b] : [])].some((t) => t.dtype !== 'float32') || !isWasmBackend(backend) || !simdKernels(backend)) {
    return denseComposite(x, w, b);
  }
  register();
  const inputs: tf.NamedTensorMap = b ? { x, w, b } : { x, w };
  return tf.engine().runKernel(DENSE, inputs, { hasBias: Boolean(b) } as never) as tf.Tensor2D;
}
