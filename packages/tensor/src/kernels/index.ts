import type { ActiveBackendName } from '../backend-names';
import { overrideKernel, restoreKernel } from './override';
import { makeWasmBatchMatMul, makeWasmFusedMatMul } from './wasm-batch-matmul';
import { makeWasmCast, makeWasmIdentity } from './wasm-identity';
import { makeWasmPow } from './wasm-pow';
import { makeWasmSum } from './wasm-sum';

/** Kernels rftkit replaces, per backend. */
const OVERRIDES: Record<string, Record<string, Parameters<typeof overrideKernel>[2]>> = {
  wasm: {
    BatchMatMul: makeWasmBatchMatMul,
    Cast: makeWasmCast,
    Identity: makeWasmIdentity,
    _FusedMatMul: makeWasmFusedMatMul,
    Pow: makeWasmPow,
    Sum: makeWasmSum,
  },
};

/**
 * Kernel overrides installed when a backend is activated (faster paths for the shapes
 * rftkit's models use). Each override must give the same numbers as the kernel it
 * replaces, within float32 tolerance. Idempotent.
 */
export async function installKernels(backend: ActiveBackendName): Promise<void> {
  for (const [kernel, make] of Object.entries(OVERRIDES[backend] ?? {})) overrideKernel(kernel, backend, make);
}

/** Puts back tfjs' own kernels for `backend` (to compare against them). */
export function restoreKernels(backend: ActiveBackendName): void {
  for (const kernel of Object.keys(OVERRIDES[backend] ?? {})) restoreKernel(kernel, backend);
}
