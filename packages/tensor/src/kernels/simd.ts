import v8 from 'node:v8';
import type * as tf from '@tensorflow/tfjs-core';
import { SIMD_MODULE, SIMD_MODULE_RELAXED, SIMD_MODULE_SHARED, SIMD_MODULE_SHARED_RELAXED } from './simd-module';
import { tensorData, type WasmBackend } from './wasm-internals';
import { SimdThreads } from './simd-threads';
import { wasmThreads } from '../wasm-threads';

/**
 * rftkit's own SIMD kernels (`packages/tensor/simd/kernels.c`), instantiated on the memory of
 * tfjs-backend-wasm so they read and write the backend's tensors in place. Pointers are
 * byte offsets into that memory; `int` arguments are i32.
 */
export interface SimdKernels {
  attention_forward(
    q: number,
    k: number,
    v: number,
    keyMask: number,
    out: number,
    probs: number,
    B: number,
    Tq: number,
    Tk: number,
    L: number,
    H: number,
    KH: number,
    dh: number,
    causal: number,
  ): void;
  gelu_forward(x: number, y: number, n: number): void;
  gelu_backward(dy: number, x: number, dx: number, n: number): void;
  layer_norm_forward(x: number, gamma: number, beta: number, y: number, rows: number, D: number, eps: number): void;
  layer_norm_backward(
    dy: number,
    x: number,
    gamma: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    rows: number,
    D: number,
    eps: number,
  ): void;
  column_sum(x: number, out: number, rows: number, cols: number): void;
  add_into(a: number, b: number, n: number): void;
  adam_update(
    x: number,
    g: number,
    m: number,
    v: number,
    x1: number,
    m1: number,
    v1: number,
    n: number,
    stepSize: number,
    beta1: number,
    beta2: number,
    eps: number,
    bc2: number,
    decay: number,
    l2: number,
    b1: number,
    b2: number,
  ): void;
  token_logp_forward(logits: number, targets: number, logp: number, entropy: number, rows: number, V: number, invT: number): void;
  token_logp_backward(
    dlogp: number,
    dentropy: number,
    logits: number,
    targets: number,
    dx: number,
    rows: number,
    V: number,
    invT: number,
  ): void;
  /** dst[b, c, r] = src[b, r, c] for `batch` matrices of rows × cols. */
  transpose(src: number, dst: number, batch: number, rows: number, cols: number): void;
  /** Σ x² over n floats, accumulated in double. */
  sum_of_squares(x: number, n: number): number;
  /**
   * C[M,N] = op(A)·B (+ bias[N] unless 0); element (i,k) of op(A) at A[i·ars + k·acs]; B [K,N]
   * and C [M,N] with rows `ldb` and `ldc` floats apart.
   */
  matmul(A: number, B: number, C: number, M: number, K: number, N: number, ars: number, acs: number, ldb: number, ldc: number, bias: number): void;
  /**
   * `matmul` for many rows, B packed block by block into `panel` (scratch of
   * `PANEL_FLOATS` floats): element (k,j) of B at B[k·brs + j·bcs], so B may be stored [K,N]
   * (brs = ldb, bcs = 1) or [N,K] (brs = 1, bcs = ldb) without a transposed copy.
   */
  matmul_packed(
    A: number,
    B: number,
    C: number,
    M: number,
    K: number,
    N: number,
    ars: number,
    acs: number,
    brs: number,
    bcs: number,
    ldc: number,
    bias: number,
    panel: number,
  ): void;
  attention_backward(
    dout: number,
    q: number,
    k: number,
    v: number,
    probs: number,
    dq: number,
    dk: number,
    dv: number,
    B: number,
    Tq: number,
    Tk: number,
    H: number,
    KH: number,
    dh: number,
  ): void;
}

/** The parts of the WebAssembly JS API used here (the project's TS libs leave it out). */
interface WasmMemory {
  buffer: ArrayBufferLike;
}
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

interface EmscriptenMemoryHolder {
  wasmMemory?: unknown;
  asm?: Record<string, unknown>;
}

/** The backend's `WebAssembly.Memory`: `Module.wasmMemory` (threaded build) or an export. */
function backendMemory(wasm: unknown): WasmMemory | undefined {
  const m = wasm as EmscriptenMemoryHolder;
  if (m.wasmMemory instanceof WA.Memory) return m.wasmMemory;
  for (const value of Object.values(m.asm ?? {})) if (value instanceof WA.Memory) return value;
  return undefined;
}

const byModule = new WeakMap<object, SimdKernels | null>();
const threadsByModule = new WeakMap<object, SimdThreads>();
let threadsEnabled = process.env.RFTKIT_WASM_SIMD_THREADS !== '0';
let loadedRelaxed = false;
/** The last lookup, for the common case of one backend (kernels call this per launch). */
let last: { key: object | undefined; kernels: SimdKernels | null } = { key: undefined, kernels: null };
let enabled = process.env.RFTKIT_WASM_SIMD !== '0';

/** Turns rftkit's SIMD kernels off or on for this process (`RFTKIT_WASM_SIMD=0` starts off). */
export function setSimdKernelsEnabled(on: boolean): void {
  enabled = on;
}

function decode(base64: string): Uint8Array {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

// A minimal module using f32x4.relaxed_madd: (func (result v128) (madd 0 0 0)), by wat2wasm.
const RELAXED_PROBE = decode(
  'AGFzbQEAAAABBQFgAAF7AwIBAAo9ATsA/QwAAAAAAAAAAAAAAAAAAAAA/QwAAAAAAAAAAAAAAAAAAAAA/QwAAAAAAAAAAAAAAAAAAAAA/YUCCw==',
);

/**
 * Whether relaxed SIMD compiles here. Node 20's V8 has it behind a flag, which is turned on
 * for the process the first time (it only adds instructions wasm modules may use); Node 22+
 * has it on. `RFTKIT_WASM_RELAXED_SIMD=0` keeps it off (plain SIMD kernels, no fused
 * multiply-add).
 */
function relaxedSimdAvailable(): boolean {
  if (process.env.RFTKIT_WASM_RELAXED_SIMD === '0') return false;
  if (WA.validate(RELAXED_PROBE)) return true;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return WA.validate(RELAXED_PROBE);
}

/**
 * The SIMD kernels bound to `backend`'s memory, or undefined when they cannot load there or
 * are turned off (`RFTKIT_WASM_SIMD=0`, `setSimdKernelsEnabled`): the kernels then run as
 * JavaScript, as on cpu. The
 * build with relaxed SIMD's fused multiply-add (in `matmul`) is preferred where it compiles.
 */
export function simdKernels(backend: WasmBackend): SimdKernels | undefined {
  if (!enabled) return undefined;
  const key = backend.wasm as unknown as object;
  if (key === last.key) return last.kernels ?? undefined;
  let kernels = byModule.get(key);
  if (kernels === undefined) {
    kernels = null;
    const memory = backendMemory(backend.wasm);
    if (memory) {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const builds = relaxedSimdAvailable()
        ? [shared ? SIMD_MODULE_SHARED_RELAXED : SIMD_MODULE_RELAXED, shared ? SIMD_MODULE_SHARED : SIMD_MODULE]
        : [shared ? SIMD_MODULE_SHARED : SIMD_MODULE];
      for (const [i, build] of builds.entries()) {
        try {
          const module = new WA.Module(decode(build));
          kernels = new WA.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
          loadedRelaxed = builds.length === 2 && i === 0;
          if (shared && wasmThreads() > 1) threadsByModule.set(key, new SimdThreads(module, memory, kernels, wasmThreads()));
          break;
        } catch {
          // e.g. a runtime without wasm SIMD: try the next build, else callers fall back.
        }
      }
    }
    byModule.set(key, kernels);
  }
  last = { key, kernels };
  return kernels ?? undefined;
}

/** Floats of scratch `matmul_packed` needs for its packed block of B (kernels.c's PANEL_FLOATS). */
export const PANEL_FLOATS = 256 * 1024;

/**
 * The threads rftkit's SIMD matmul can split a product across on `backend` (the wasm
 * backend's threaded build, which shares its memory), or undefined: then the calling
 * thread runs it alone. Until its workers have started the pool runs every product on the
 * calling thread, with the same result. `RFTKIT_WASM_SIMD_THREADS=0` (or `setSimdThreadsEnabled(false)`)
 * turns them off.
 */
export function simdThreads(backend: WasmBackend): SimdThreads | undefined {
  if (!threadsEnabled || !simdKernels(backend)) return undefined;
  return threadsByModule.get(backend.wasm as unknown as object);
}

/** Turns the SIMD matmul's worker threads off or on for this process. */
export function setSimdThreadsEnabled(on: boolean): void {
  threadsEnabled = on;
}

/** Which SIMD kernels the last `simdKernels` call loaded: 'relaxed' (with FMA), 'simd' or none. */
export function simdBuild(backend: WasmBackend): 'relaxed' | 'simd' | 'none' {
  if (!simdKernels(backend)) return 'none';
  return loadedRelaxed ? 'relaxed' : 'simd';
}

/**
 * Allocates `outShapes` (float32) on the wasm backend and calls `compute` with the byte
 * offsets of the inputs and then the outputs.
 */
export function runSimd(
  backend: WasmBackend,
  inputs: tf.TensorInfo[],
  outShapes: number[][],
  compute: (inputs: number[], outputs: number[]) => void,
): tf.TensorInfo[] {
  const outs = outShapes.map((s) => backend.makeOutput(s, 'float32'));
  compute(
    inputs.map((t) => tensorData(backend, t).memoryOffset),
    outs.map((t) => tensorData(backend, t).memoryOffset),
  );
  return outs;
}
