import * as tf from '@tensorflow/tfjs-core';
import { simdRunsProduct, wasmMatMul, wasmMatMulBias } from './wasm-batch-matmul';
import { isWasmBackend, type WasmBackend } from './wasm-internals';

/** `x [N,in] · w [in,out] (+ b [out])` on wasm: one kernel (core's `dense` op). */
export const DENSE = 'RftDense';
/** `dx = dy·wᵀ`, `dw = xᵀ·dy` (and `db = Σ_rows dy` when the op had a bias), in one kernel. */
export const DENSE_GRAD = 'RftDenseGrad';

function run(kernel: string, backend: WasmBackend, inputs: Record<string, tf.TensorInfo>, attrs: object = {}): tf.TensorInfo {
  const config = tf.getKernel(kernel, 'wasm');
  if (!config) throw new Error(`wasm kernels: no ${kernel} kernel`);
  return config.kernelFunc({ inputs, backend: backend as never, attrs: attrs as never }) as tf.TensorInfo;
}

type Args = { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs?: { hasBias?: boolean } };

function wasmBackend(backend: unknown): WasmBackend {
  if (!isWasmBackend(backend)) throw new Error(`${DENSE}: runs on the wasm backend only`);
  return backend;
}

function denseForward({ inputs: { x, w, b }, backend }: Args): tf.TensorInfo {
  const be = wasmBackend(backend);
  const [N, K] = x!.shape as [number, number];
  const n = w!.shape[1] as number;
  // The bias seeds the SIMD matmul's accumulators; a product XNNPACK threads gets an Add.
  if (b && simdRunsProduct(be, N * K * n)) return wasmMatMulBias(be, x!, w!, false, false, b);
  const y = wasmMatMul(be, x!, w!, false, false);
  if (!b) return y;
  try {
    return run('Add', be, { a: y, b });
  } finally {
    be.disposeData(y.dataId);
  }
}

function denseBackward({ inputs: { dy, x, w }, backend, attrs }: Args): tf.TensorInfo[] {
  const be = wasmBackend(backend);
  const dx = wasmMatMul(be, dy!, w!, false, true);
  const dw = wasmMatMul(be, x!, dy!, true, false);
  if (!attrs?.hasBias) return [dx, dw];
  return [dx, dw, run('Sum', be, { x: dy! }, { axis: [0], keepDims: false })];
}

/** The dense kernels, registered for wasm only (other backends compose tfjs ops). */
export const wasmDenseKernels: tf.KernelConfig[] = [
  { kernelName: DENSE, backendName: 'wasm', kernelFunc: denseForward as unknown as tf.KernelConfig['kernelFunc'] },
  { kernelName: DENSE_GRAD, backendName: 'wasm', kernelFunc: denseBackward as unknown as tf.KernelConfig['kernelFunc'] },
];
