export * from './backend';
export * from './ops/index';
export { wasmMatMulTuning } from './kernels/wasm-batch-matmul';
export { wasmThreads } from './wasm-threads';
export { setSimdKernelsEnabled, setSimdThreadsEnabled } from './kernels/simd';
export { simdThreadTuning } from './kernels/simd-threads';
export { withTfjsBackward } from './engine-gradients';
