import * as tf from '@tensorflow/tfjs-core';
import { isWasmBackend, tensorData, type WasmBackend } from './wasm-internals';

type Binary = { inputs: { a: tf.TensorInfo; b: tf.TensorInfo }; backend: unknown; attrs?: unknown };

function run(kernel: string, backend: WasmBackend, inputs: Record<string, tf.TensorInfo>): tf.TensorInfo {
  const config = tf.getKernel(kernel, 'wasm');
  if (!config) throw new Error(`wasm kernels: no ${kernel} kernel`);
  return config.kernelFunc({ inputs, backend: backend as never, attrs: {} }) as tf.TensorInfo;
}

/**
 * `Pow` with a scalar small-integer exponent as multiplications. tfjs-backend-wasm calls
 * `std::pow` per element through its generic broadcasting loop, ≈50x slower than a
 * multiply; GELU's x³ and its gradient's x² hit this on every MLP activation.
 */
export function makeWasmPow(original: tf.KernelConfig): tf.KernelConfig['kernelFunc'] {
  return ((args: Binary) => {
    const { a, b } = args.inputs;
    const backend = args.backend;
    if (
      !isWasmBackend(backend) ||
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      tf.util.sizeFromShape(b.shape) !== 1 ||
      b.shape.length > a.shape.length
    ) {
      return original.kernelFunc(args as never);
    }
    const exponent = new Float32Array(backend.wasm.HEAPU8.buffer, tensorData(backend, b).memoryOffset, 1)[0];
    if (exponent === 1) return run('Identity', backend, { x: a });
    if (exponent === 2) return run('Square', backend, { x: a });
    if (exponent === 3 || exponent === 4) {
      const square = run('Square', backend, { x: a });
      try {
        return exponent === 3 ? run('Multiply', backend, { a: square, b: a }) : run('Square', backend, { x: square });
      } finally {
        backend.disposeData(square.dataId);
      }
    }
    return original.kernelFunc(args as never);
  }) as tf.KernelConfig['kernelFunc'];
}
