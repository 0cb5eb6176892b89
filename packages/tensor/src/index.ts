export * from './backend';
export * from './ops/index';
export { wasmMatMulTuning } from './kernels/wasm-batch-matmul';
export { wasmThreads } from './wasm-threads';
export { setSimdKernelsEnabled } from './kernels/simd';
