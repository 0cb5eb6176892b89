import * as tf from '@tensorflow/tfjs-core';
import { simdKernels, simdThreads } from '../kernels/simd';
import { floatView } from '../kernels/float-view';
import { isWasmBackend, tensorData } from '../kernels/wasm-internals';

interface RefCounted {
  refCount(dataId: tf.DataId): number;
}

/**
 * `acc + x`, written into `acc`'s own buffer where nothing else can see it: on wasm and
 * cpu, both float32 of one shape, `acc` no variable and the only tensor on its buffer (the
 * backend's reference count is 1; a reshape or a kept alias shares it). Returns `acc` itself
 * when it was written, else a new tensor (`tf.add`; the caller then disposes `acc`). `x` is
 * borrowed either way.
 *
 * For gradient accumulation over micro-batches: no new accumulator-sized buffer per
 * micro-batch (540 MB at SmolLM2-135M's full fine-tune, and its first-touch page faults).
 * The sum is rounded to float32 once, so the bits equal `tf.add`'s.
 */
export function addInto(acc: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const backend = tf.backend();
  const alone = !(acc instanceof tf.Variable) && (backend as unknown as RefCounted).refCount?.(acc.dataId) === 1;
  const fits = acc.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(acc.shape, x.shape);
  if (!alone || !fits) return tf.add(acc, x);
  // wasm: rftkit's SIMD kernel, on the worker threads too for large tensors.
  const simd = isWasmBackend(backend) ? simdKernels(backend) : undefined;
  if (simd && isWasmBackend(backend)) {
    const [a, b] = [tensorData(backend, acc).memoryOffset, tensorData(backend, x).memoryOffset];
    const pool = simdThreads(backend);
    if (pool) pool.runAddInto(a, b, acc.size);
    else simd.add_into(a, b, acc.size);
    return acc;
  }
  const a = floatView(acc);
  const b = floatView(x);
  if (!a || !b) return tf.add(acc, x);
  for (let i = 0; i < a.length; i++) a[i] = a[i]! + b[i]!;
  return acc;
}
