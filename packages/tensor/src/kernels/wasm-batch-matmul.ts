import * as tf from '@tensorflow/tfjs-core';
import {
  int32Bytes,
  isWasmBackend,
  permute,
  registerView,
  releaseView,
  tensorData,
  transposeLastTwo,
  type WasmBackend,
  wasmFns,
} from './wasm-internals';
import { wasmThreads, withWasmThreads } from '../wasm-threads';
import { PANEL_FLOATS, type SimdKernels, simdKernels, simdThreads } from './simd';

/**
 * Tuning of the wasm matmul override. tfjs-backend-wasm only sends one shape to XNNPACK
 * (a single non-transposed [M,K]·[K,N] product); everything else goes to a scalar loop
 * that is 10–40x slower. The override reshapes every product into XNNPACK calls.
 */
export const wasmMatMulTuning = {
  /**
   * Batched products whose matrices have fewer rows than this use the scalar loop (with
   * both operands laid out along the shared dimension): for a handful of rows, packing
   * each right-hand matrix for XNNPACK costs more than it saves.
   */
  loopMinRows: 8,
  /**
   * With several wasm threads and rftkit's SIMD matmul threads off or not started, products
   * of at least this many multiply-adds run on XNNPACK across all threads (see
   * `withWasmThreads`); smaller ones run on one thread, on rftkit's SIMD matmul where it
   * loads (else XNNPACK). Waking a sleeping worker costs tens of microseconds, which ate the
   * gain of threading products below ≈8M multiply-adds in a training step
   * (docs/performance.md).
   */
  threadMinMacs: 8_000_000,
  /**
   * Run products of every size on rftkit's SIMD matmul, split across its own worker threads
   * on the shared memory (`simd-threads.ts`) where the backend is threaded; it outruns
   * XNNPACK's threads 1.3–2× at a training step's shapes (bench/src/matmul-rate.mjs), and a
   * product's bits then do not depend on the thread count. Off: big products go to
   * XNNPACK's threads as above.
   */
  simdThreads: true,
  /**
   * a·bᵀ (and a·b) with one `b` wider than `a`'s rows runs as (b·aᵀ)ᵀ (and (bᵀ·aᵀ)ᵀ) on
   * XNNPACK: the copy and packing XNNPACK makes of its right-hand operand is then of the small
   * aᵀ, not of b (an LM head's 49k×576 weight). Off only to measure the difference
   * (bench/src/matmul-swap.mjs).
   */
  swapTransposedB: true,
  /**
   * Products of one right-hand matrix with at least this many output rows (or a transposed
   * left-hand one, a weight gradient xᵀ·dy) run on the SIMD `matmul_packed`, which copies B
   * block by block into 8-column strips read contiguously by every tile (and reads a·bᵀ's b
   * in place). Fewer rows go to `matmul`, where packing would cost more than it saves.
   */
  packMinRows: 128,
};

/** Runs one XNNPACK product of `macs` multiply-adds, threaded when it is big enough. */
function run(macs: number, product: () => void): void {
  if (macs >= wasmMatMulTuning.threadMinMacs) withWasmThreads(product);
  else product();
}

const bytes = int32Bytes;

export interface MatMulShape {
  m: number;
  k: number;
  n: number;
  aBatchShape: number[];
  bBatchShape: number[];
  outBatchShape: number[];
}

export function matMulShape(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): MatMulShape {
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const m = (transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2]) as number;
  const k = (transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1]) as number;
  const kb = (transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2]) as number;
  const n = (transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1]) as number;
  tf.util.assert(
    k === kb,
    () =>
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ` +
      `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const aBatchShape = a.shape.slice(0, -2);
  const bBatchShape = b.shape.slice(0, -2);
  const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(aBatchShape, bBatchShape);
  return { m, k, n, aBatchShape, bBatchShape, outBatchShape };
}

/** For each output batch index, the batch index of an operand broadcast to `outShape`. */
function broadcastIndex(operandShape: number[], outShape: number[]): (i: number) => number {
  const rank = outShape.length;
  const padded = [...new Array<number>(rank - operandShape.length).fill(1), ...operandShape];
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : stride;
    stride *= padded[d] as number;
  }
  return (i) => {
    let rest = i;
    let index = 0;
    for (let d = rank - 1; d >= 0; d--) {
      const size = outShape[d] as number;
      index += (rest % size) * (strides[d] as number);
      rest = Math.floor(rest / size);
    }
    return index;
  };
}

/**
 * out = op(a)·op(b) on the wasm backend, batched and broadcast like tf.matMul, computed
 * with XNNPACK wherever a product can be phrased as [rows,K]·[K,N] on contiguous memory.
 * Returns a new tensor owned by the caller; every intermediate is released.
 */
export function wasmMatMul(
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): tf.TensorInfo {
  return wasmMatMulBias(backend, a, b, transposeA, transposeB);
}

/** Whether `wasmMatMulBias` takes a bias for this product (rftkit's SIMD matmul runs it). */
export function simdRunsProduct(backend: WasmBackend, macs: number): boolean {
  if (simdKernels(backend) === undefined) return false;
  if (wasmThreads() <= 1 || macs < wasmMatMulTuning.threadMinMacs) return true;
  return wasmMatMulTuning.simdThreads && simdThreads(backend) !== undefined;
}

/** `wasmMatMul` plus a `[n]` bias added to every output row (only where `simdRunsProduct`). */
export function wasmMatMulBias(
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  bias?: tf.TensorInfo,
): tf.TensorInfo {
  const { m, k, n, aBatchShape, bBatchShape, outBatchShape } = matMulShape(a, b, transposeA, transposeB);
  const batchA = tf.util.sizeFromShape(aBatchShape);
  const batchB = tf.util.sizeFromShape(bBatchShape);
  const batch = tf.util.sizeFromShape(outBatchShape);
  const out = backend.makeOutput([...outBatchShape, m, n], 'float32');
  const fns = wasmFns(backend);
  const outData = tensorData(backend, out);
  const temps: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo) => {
    temps.push(t);
    return t;
  };
  try {
    if (batch * m * n === 0) return out;
    if (k === 0) {
      new Float32Array(backend.wasm.HEAPU8.buffer, outData.memoryOffset, batch * m * n).fill(0);
      return out;
    }
    const simd = simdKernels(backend);
    if (simd && simdRunsProduct(backend, batch * m * k * n)) {
      simdMatMul(backend, simd, a, b, transposeA, transposeB, outData.memoryOffset, keep, bias);
      return out;
    }
    if (bias) throw new Error('wasm kernels: a bias needs the SIMD matmul (check simdRunsProduct first)');
    if (batchA > 1 && batchB > 1 && m < wasmMatMulTuning.loopMinRows && batchA === batchB) {
      // Scalar loop, fastest with both operands contiguous along k: a as [m,k], b as [n,k].
      const aN = transposeA ? keep(transposeLastTwo(backend, a, batchA, k, m)) : a;
      const bT = transposeB ? b : keep(transposeLastTwo(backend, b, batchB, k, n));
      fns.batchMatMul(
        tensorData(backend, aN).id,
        bytes([batchA, m, k]),
        3,
        tensorData(backend, bT).id,
        bytes([batchB, n, k]),
        3,
        false,
        true,
        outData.id,
      );
      return out;
    }
    if (wasmMatMulTuning.swapTransposedB && batchB === 1 && !transposeA && batchA * m < n) {
      // b wider than a's rows (an LM head, a linear layer's weight, dx = dy·W): out = (b'·aᵀ)ᵀ
      // with b' = b as [n, k], so XNNPACK packs the small aᵀ, not b. For a·bᵀ b is read in
      // place; for a·b a transposed copy of b is still cheaper than XNNPACK's packed one.
      const rows = batchA * m;
      const bRows = transposeB ? b : keep(transposed(backend, simd, b, 1, k, n));
      const aT = keep(transposed(backend, simd, a, 1, rows, k));
      const wide = keep(backend.makeOutput([n, rows], 'float32'));
      run(rows * k * n, () =>
        fns.batchMatMul(tensorData(backend, bRows).id, bytes([1, n, k]), 3, tensorData(backend, aT).id, bytes([1, k, rows]), 3, false, false, tensorData(backend, wide).id),
      );
      transposeInto(backend, simd, wide, out, n, rows);
      return out;
    }
    // Lay both operands out as row-major [.., m, k] and [.., k, n] (what XNNPACK takes).
    const aN = transposeA ? keep(transposed(backend, simd, a, batchA, k, m)) : a;
    const bN = transposeB ? keep(transposed(backend, simd, b, batchB, n, k)) : b;
    const aData = tensorData(backend, aN);
    const bData = tensorData(backend, bN);
    if (batchB === 1) {
      // One right-hand matrix: stack every left-hand matrix's rows into one product. b is
      // passed as a view released right after: XNNPACK keeps a packed copy of its right-hand
      // operand until that id is disposed, which for a frozen weight (LoRA's base) would be
      // never, a second copy of every weight.
      const bView = registerView(backend, bData.memoryOffset, k * n);
      try {
        run(batchA * m * k * n, () => fns.batchMatMul(aData.id, bytes([1, batchA * m, k]), 3, bView, bytes([1, k, n]), 3, false, false, outData.id));
      } finally {
        releaseView(backend, bView);
      }
      return out;
    }
    if (batchA === 1) {
      // One left-hand matrix: a·[b_0 | b_1 | ...] as one [m,k]·[k, batch·n] product.
      const bWide = keep(permute(backend, bN, [batchB, k, n], [1, 0, 2]));
      const wide = keep(backend.makeOutput([m, batchB * n], 'float32'));
      run(m * k * batchB * n, () =>
        fns.batchMatMul(
          aData.id,
          bytes([1, m, k]),
          3,
          tensorData(backend, bWide).id,
          bytes([1, k, batchB * n]),
          3,
          false,
          false,
          tensorData(backend, wide).id,
        ),
      );
      fns.transpose(
        tensorData(backend, wide).id,
        bytes([m, batchB, n]),
        3,
        0,
        outData.id,
        bytes([1, 0, 2]),
        3,
      );
      return out;
    }
    loopProducts(backend, aData.memoryOffset, bData.memoryOffset, outData.memoryOffset, {
      m,
      k,
      n,
      aBatchShape,
      bBatchShape,
      outBatchShape,
    });
    return out;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** `[batch, rows, cols]` → a new `[batch, cols, rows]`: rftkit's SIMD transpose where it loads (faster), else tfjs'. */
function transposed(backend: WasmBackend, simd: SimdKernels | undefined, x: tf.TensorInfo, batch: number, rows: number, cols: number): tf.TensorInfo {
  return simd ? simdTranspose(backend, simd, x, batch, rows, cols) : transposeLastTwo(backend, x, batch, rows, cols);
}

/** `src [rows, cols]` transposed into the existing `dst [cols, rows]`. */
function transposeInto(backend: WasmBackend, simd: SimdKernels | undefined, src: tf.TensorInfo, dst: tf.TensorInfo, rows: number, cols: number): void {
  if (simd) simd.transpose(tensorData(backend, src).memoryOffset, tensorData(backend, dst).memoryOffset, 1, rows, cols);
  else wasmFns(backend).transpose(tensorData(backend, src).id, int32Bytes([rows, cols]), 2, 0, tensorData(backend, dst).id, int32Bytes([1, 0]), 2);
}

/** `[batch, rows, cols]` → a new `[batch, cols, rows]`, on rftkit's SIMD transpose. */
function simdTranspose(backend: WasmBackend, simd: SimdKernels, x: tf.TensorInfo, batch: number, rows: number, cols: number): tf.TensorInfo {
  const out = backend.makeOutput([batch, cols, rows], 'float32');
  simd.transpose(tensorData(backend, x).memoryOffset, tensorData(backend, out).memoryOffset, batch, rows, cols);
  return out;
}

/**
 * The product on rftkit's SIMD `matmul` (register-tiled, fused multiply-add where relaxed
 * SIMD is on), with transposed operands laid out row-major first; one call per output
 * matrix, or one for all when `b` is a single matrix.
 */
function simdMatMul(
  backend: WasmBackend,
  simd: SimdKernels,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  outOffset: number,
  keep: (t: tf.TensorInfo) => tf.TensorInfo,
  bias?: tf.TensorInfo,
): void {
  const { m, k, n, aBatchShape, bBatchShape, outBatchShape } = matMulShape(a, b, transposeA, transposeB);
  const biasOffset = bias ? tensorData(backend, bias).memoryOffset : 0;
  const pool = wasmMatMulTuning.simdThreads ? simdThreads(backend) : undefined;
  const matmul: SimdKernels['matmul'] = pool ? (...args) => pool.run(...args) : (...args) => simd.matmul(...args);
  const batchA = tf.util.sizeFromShape(aBatchShape);
  const batchB = tf.util.sizeFromShape(bBatchShape);
  const batch = tf.util.sizeFromShape(outBatchShape);
  if (batchB === 1 && Number.isFinite(wasmMatMulTuning.packMinRows) && (transposeA ? batchA === 1 : batchA * m >= wasmMatMulTuning.packMinRows)) {
    const rows = batchA * m;
    const threads = pool?.threads ?? 1;
    const panel = keep(backend.makeOutput([threads * PANEL_FLOATS], 'float32'));
    const panelOffset = tensorData(backend, panel).memoryOffset;
    const [ars, acs] = transposeA ? [1, m] : [k, 1];
    const [brs, bcs] = transposeB ? [1, k] : [n, 1];
    const aOffset = tensorData(backend, a).memoryOffset;
    const bOffset = tensorData(backend, b).memoryOffset;
    if (pool) pool.runPacked(aOffset, bOffset, outOffset, rows, k, n, ars, acs, brs, bcs, n, biasOffset, panelOffset, 4 * PANEL_FLOATS, threads);
    else simd.matmul_packed(aOffset, bOffset, outOffset, rows, k, n, ars, acs, brs, bcs, n, biasOffset, panelOffset);
    return;
  }
  if (wasmMatMulTuning.swapTransposedB && !bias && batchB === 1 && transposeB && !transposeA && batchA * m < n) {
    // As on XNNPACK: (b·aᵀ)ᵀ transposes the few rows of a, not the whole of b (a weight
    // read once per decode step).
    const rows = batchA * m;
    const aT = keep(simdTranspose(backend, simd, a, 1, rows, k));
    const wide = keep(backend.makeOutput([n, rows], 'float32'));
    matmul(tensorData(backend, b).memoryOffset, tensorData(backend, aT).memoryOffset, tensorData(backend, wide).memoryOffset, n, k, rows, k, 1, rows, rows, 0);
    simd.transpose(tensorData(backend, wide).memoryOffset, outOffset, 1, n, rows);
    return;
  }
  // A transposed `a` read through strides touches a new cache line per k; transposing it
  // once is as fast at these sizes and several times faster when k is large.
  const aN = transposeA ? keep(simdTranspose(backend, simd, a, batchA, k, m)) : a;
  const bN = transposeB ? keep(simdTranspose(backend, simd, b, batchB, n, k)) : b;
  const aOffset = tensorData(backend, aN).memoryOffset;
  const bOffset = tensorData(backend, bN).memoryOffset;
  if (batchB === 1) {
    matmul(aOffset, bOffset, outOffset, batchA * m, k, n, k, 1, n, n, biasOffset);
    return;
  }
  const aIndex = broadcastIndex(aBatchShape, outBatchShape);
  const bIndex = broadcastIndex(bBatchShape, outBatchShape);
  for (let i = 0; i < batch; i++) {
    matmul(aOffset + aIndex(i) * m * k * 4, bOffset + bIndex(i) * k * n * 4, outOffset + i * m * n * 4, m, k, n, k, 1, n, n, biasOffset);
  }
}

/** One XNNPACK call per output matrix, on zero-copy views into the operands. */
function loopProducts(
  backend: WasmBackend,
  aOffset: number,
  bOffset: number,
  outOffset: number,
  shape: MatMulShape,
): void {
  const { m, k, n, aBatchShape, bBatchShape, outBatchShape } = shape;
  const fns = wasmFns(backend);
  const batch = tf.util.sizeFromShape(outBatchShape);
  const aIndex = broadcastIndex(aBatchShape, outBatchShape);
  const bIndex = broadcastIndex(bBatchShape, outBatchShape);
  const aShape = bytes([1, m, k]);
  const bShape = bytes([1, k, n]);
  const aViews = new Map<number, number>();
  // A right-hand view shared by several outputs keeps its packed weights in XNNPACK's cache.
  const bViews = new Map<number, number>();
  try {
    for (let i = 0; i < batch; i++) {
      const ia = aIndex(i);
      const ib = bIndex(i);
      let aId = aViews.get(ia);
      if (aId === undefined) {
        aId = registerView(backend, aOffset + ia * m * k * 4, m * k);
        aViews.set(ia, aId);
      }
      let bId = bViews.get(ib);
      if (bId === undefined) {
        bId = registerView(backend, bOffset + ib * k * n * 4, k * n);
        bViews.set(ib, bId);
      }
      const outId = registerView(backend, outOffset + i * m * n * 4, m * n);
      try {
        run(m * k * n, () => fns.batchMatMul(aId, aShape, 3, bId, bShape, 3, false, false, outId));
      } finally {
        releaseView(backend, outId);
      }
    }
  } finally {
    for (const id of aViews.values()) releaseView(backend, id);
    for (const id of bViews.values()) releaseView(backend, id);
  }
}

type BatchMatMulArgs = {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: unknown;
  attrs: { transposeA?: boolean; transposeB?: boolean };
};

/** The replacement `BatchMatMul` kernel function; other dtypes go to the original. */
export function makeWasmBatchMatMul(original: tf.KernelConfig): tf.KernelConfig['kernelFunc'] {
  return ((args: BatchMatMulArgs) => {
    const { a, b } = args.inputs;
    if (!isWasmBackend(args.backend) || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return original.kernelFunc(args as never);
    }
    return wasmMatMul(args.backend, a, b, !!args.attrs.transposeA, !!args.attrs.transposeB);
  }) as tf.KernelConfig['kernelFunc'];
}

type FusedMatMulArgs = {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  backend: unknown;
  attrs: { transposeA?: boolean; transposeB?: boolean; activation?: string };
};

/**
 * `_FusedMatMul` (`tf.fused.matMul`) with a bias and no activation on rftkit's SIMD matmul,
 * the bias seeding the accumulators: one kernel and one pass for a dense layer. Anything
 * else goes to tfjs' kernel.
 */
export function makeWasmFusedMatMul(original: tf.KernelConfig): tf.KernelConfig['kernelFunc'] {
  return ((args: FusedMatMulArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const backend = args.backend;
    const transposeA = !!args.attrs.transposeA;
    const transposeB = !!args.attrs.transposeB;
    if (
      !isWasmBackend(backend) ||
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      !bias ||
      bias.dtype !== 'float32' ||
      preluActivationWeights ||
      (args.attrs.activation ?? 'linear') !== 'linear'
    ) {
      return original.kernelFunc(args as never);
    }
    const { m, k, n, outBatchShape } = matMulShape(a, b, transposeA, transposeB);
    if (k === 0 || bias.shape.length !== 1 || bias.shape[0] !== n || !simdRunsProduct(backend, tf.util.sizeFromShape(outBatchShape) * m * k * n)) {
      return original.kernelFunc(args as never);
    }
    return wasmMatMulBias(backend, a, b, transposeA, transposeB, bias);
  }) as tf.KernelConfig['kernelFunc'];
}

