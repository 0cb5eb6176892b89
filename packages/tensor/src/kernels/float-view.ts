import * as tf from '@tensorflow/tfjs-core';
import { isWasmBackend, tensorData } from './wasm-internals';

/**
 * The float32 values of `t`'s own buffer, as a view to read or write in place: on wasm a view
 * of the heap (taken now: memory growth replaces the heap's buffer), on cpu the backend's
 * array; undefined on other backends or for other dtypes.
 */
export function floatView(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const backend = tf.backend();
  if (isWasmBackend(backend)) return new Float32Array(backend.wasm.HEAPU8.buffer, tensorData(backend, t).memoryOffset, t.size);
  if (tf.getBackend() !== 'cpu') return undefined;
  const values = (backend as unknown as { data: { get(id: tf.DataId): { values?: unknown } | undefined } }).data.get(t.dataId)?.values;
  return values instanceof Float32Array ? values : undefined;
}
