import * as tf from '@tensorflow/tfjs-core';
import { wasmMatMul } from './wasm-batch-matmul';
import { runSimd, simdKernels } from './simd';
import { isWasmBackend, tensorData } from './wasm-internals';

type SumArgs = {
  inputs: { x: tf.TensorInfo };
  backend: unknown;
  attrs: { axis: number | number[]; keepDims?: boolean };
};

/**
 * `Sum` over leading axes (bias and broadcast gradients: `[rows, cols] → [cols]`) as one
 * pass of rftkit's SIMD column sum (or, without it, the product ones[1,rows]·x on
 * XNNPACK). tfjs-backend-wasm transposes the whole input first and then sums it, which is
 * several times slower.
 */
export function makeWasmSum(original: tf.KernelConfig): tf.KernelConfig['kernelFunc'] {
  return ((args: SumArgs) => {
    const { x } = args.inputs;
    const backend = args.backend;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(args.attrs.axis, x.shape).sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((ax, i) => ax === i);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const cols = tf.util.sizeFromShape(x.shape.slice(axes.length));
    if (!isWasmBackend(backend) || x.dtype !== 'float32' || !leading || rows === 1 || cols === 0) {
      return original.kernelFunc(args as never);
    }
    const outShape = args.attrs.keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
    if (rows === 0) {
      // tfjs-backend-wasm leaves this output uninitialised; the sum of nothing is 0.
      const zeros = backend.makeOutput(outShape, 'float32');
      new Float32Array(backend.wasm.HEAPU8.buffer, tensorData(backend, zeros).memoryOffset, cols).fill(0);
      return zeros;
    }
    const simd = simdKernels(backend);
    if (simd) {
      return runSimd(backend, [x], [outShape], ([xp], [op]) => simd.column_sum(xp!, op!, rows, cols))[0]!;
    }
    const ones = backend.makeOutput([1, rows], 'float32');
    try {
      new Float32Array(backend.wasm.HEAPU8.buffer, tensorData(backend, ones).memoryOffset, rows).fill(1);
      const out = wasmMatMul(backend, ones, { ...x, shape: [rows, cols] }, false, false);
      out.shape = outShape;
      return out;
    } finally {
      backend.disposeData(ones.dataId);
    }
  }) as tf.KernelConfig['kernelFunc'];
}
