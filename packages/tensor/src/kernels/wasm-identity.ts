import type * as tf from '@tensorflow/tfjs-core';
import { isWasmBackend } from './wasm-internals';

type Unary = { inputs: { x: tf.TensorInfo }; backend: unknown; attrs?: { dtype?: tf.DataType } };

/**
 * A new tensor on the same buffer, as the wasm `Reshape` kernel already does. tfjs tensors
 * are immutable and buffers reference-counted, so sharing is safe. tfjs-backend-wasm's
 * Identity copies the buffer instead, and the engine clones every tensor a kernel saves
 * for its gradient through Identity (and casts each gradient back through a same-dtype
 * Cast, another copy): hundreds of copies per training step.
 */
function alias(backend: { incRef(dataId: tf.DataId): void }, x: tf.TensorInfo): tf.TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

interface RefCounted {
  incRef(dataId: tf.DataId): void;
}

function canAlias(backend: unknown): backend is RefCounted {
  return isWasmBackend(backend) && typeof (backend as Partial<RefCounted>).incRef === 'function';
}

/** `Identity` without the copy (strings keep the original kernel). */
export function makeWasmIdentity(original: tf.KernelConfig): tf.KernelConfig['kernelFunc'] {
  return ((args: Unary) => {
    const { x } = args.inputs;
    if (!canAlias(args.backend) || x.dtype === 'string') return original.kernelFunc(args as never);
    return alias(args.backend, x);
  }) as tf.KernelConfig['kernelFunc'];
}

/** `Cast` to the dtype a tensor already has, without the copy. */
export function makeWasmCast(original: tf.KernelConfig): tf.KernelConfig['kernelFunc'] {
  return ((args: Unary) => {
    const { x } = args.inputs;
    if (!canAlias(args.backend) || x.dtype === 'string' || args.attrs?.dtype !== x.dtype) {
      return original.kernelFunc(args as never);
    }
    return alias(args.backend, x);
  }) as tf.KernelConfig['kernelFunc'];
}
