import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backend';
import { expectAllClose } from '../testing/close';
import { installKernels, restoreKernels } from './index';
import { originalKernel } from './override';
import { setSimdKernelsEnabled } from './simd';
import { wasmMatMulTuning } from './wasm-batch-matmul';

/** Plain float64 matmul with tf.matMul's batch broadcasting: the independent reference. */
function referenceMatMul(
  a: { shape: number[]; data: Float32Array },
  b: { shape: number[]; data: Float32Array },
  ta: boolean,
  tb: boolean,
): { shape: number[]; data: Float64Array } {
  const ar = a.shape.length;
  const br = b.shape.length;
  const [a0, a1] = [a.shape[ar - 2]!, a.shape[ar - 1]!];
  const [b0, b1] = [b.shape[br - 2]!, b.shape[br - 1]!];
  const m = ta ? a1 : a0;
  const k = ta ? a0 : a1;
  const n = tb ? b0 : b1;
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pa = [...Array(rank - aBatch.length).fill(1), ...aBatch];
  const pb = [...Array(rank - bBatch.length).fill(1), ...bBatch];
  const outBatch = pa.map((d, i) => Math.max(d, pb[i]!));
  const batch = outBatch.reduce((x, y) => x * y, 1);
  const out = new Float64Array(batch * m * n);
  for (let i = 0; i < batch; i++) {
    let rest = i;
    let ia = 0;
    let ib = 0;
    let sa = 1;
    let sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const idx = rest % outBatch[d]!;
      rest = Math.floor(rest / outBatch[d]!);
      if (pa[d] !== 1) ia += idx * sa;
      if (pb[d] !== 1) ib += idx * sb;
      sa *= pa[d]!;
      sb *= pb[d]!;
    }
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let s = 0;
        for (let q = 0; q < k; q++) {
          const av = a.data[ia * m * k + (ta ? q * m + r : r * k + q)]!;
          const bv = b.data[ib * k * n + (tb ? c * k + q : q * n + c)]!;
          s += av * bv;
        }
        out[i * m * n + r * n + c] = s;
      }
    }
  }
  return { shape: [...outBatch, m, n], data: out };
}

function operandShape(batch: number[], rows: number, cols: number, transposed: boolean): number[] {
  return [...batch, ...(transposed ? [cols, rows] : [rows, cols])];
}

const FLAGS = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

/** [aBatch, bBatch, m, k, n]: 2-D, odd sizes, batched (loop and scalar routes), broadcasts. */
const CASES: Array<[number[], number[], number, number, number]> = [
  [[], [], 7, 13, 5],
  [[], [], 33, 64, 17],
  [[], [], 1, 9, 3],
  [[], [], 150, 40, 37], // ≥ packMinRows rows: the packed SIMD route
  [[3], [], 50, 20, 11], // stacked rows over one right-hand matrix, packed
  [[3], [3], 9, 5, 11], // batched, loop route
  [[4], [4], 2, 7, 6], // batched, few rows: scalar route
  [[2, 3], [2, 3], 10, 4, 3],
  [[5], [], 9, 6, 7], // rank-2 right operand broadcast
  [[5], [1], 3, 6, 7],
  [[1], [4], 9, 6, 7], // left operand broadcast
  [[], [4], 2, 3, 5],
  [[2, 1], [1, 3], 8, 5, 4], // broadcast on both sides
  [[2, 1], [3], 2, 5, 4],
];

describe('wasm BatchMatMul override', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  afterAll(async () => {
    await installKernels('wasm');
  });

  it('is installed once, and keeps the original kernel to restore', async () => {
    await installKernels('wasm');
    await installKernels('wasm');
    const original = originalKernel('BatchMatMul', 'wasm');
    expect(original).toBeDefined();
    expect(originalKernel('BatchMatMul', 'wasm')).toBe(original);
    restoreKernels('wasm');
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(original);
    expect(originalKernel('BatchMatMul', 'wasm')).toBeUndefined();
    await installKernels('wasm');
    expect(originalKernel('BatchMatMul', 'wasm')).toBe(original);
  });

  for (const [aBatch, bBatch, m, k, n] of CASES) {
    for (const [ta, tb] of FLAGS) {
      const label = `a[${aBatch}] b[${bBatch}] m${m} k${k} n${n} ta=${ta} tb=${tb}`;
      it(`matches a float64 reference and tfjs' own kernel: ${label}`, async () => {
        await installKernels('wasm');
        const a = tf.randomNormal(operandShape(aBatch, m, k, ta), 0, 1, 'float32', 1);
        const b = tf.randomNormal(operandShape(bBatch, k, n, tb), 0, 1, 'float32', 2);
        const ref = referenceMatMul(
          { shape: a.shape, data: a.dataSync() as Float32Array },
          { shape: b.shape, data: b.dataSync() as Float32Array },
          ta,
          tb,
        );
        const before = tf.memory();
        const out = tf.matMul(a, b, ta, tb);
        expect(out.shape).toEqual(ref.shape);
        expectAllClose(out.dataSync(), ref.data, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(k), label });
        out.dispose();
        expect(tf.memory().numTensors).toBe(before.numTensors);
        expect(tf.memory().numBytes).toBe(before.numBytes);
        // tfjs' own kernel is only right when the batch dimensions broadcast from size 1.
        const aSize = aBatch.reduce((x, y) => x * y, 1);
        const bSize = bBatch.reduce((x, y) => x * y, 1);
        if (aBatch.length === bBatch.length && (aSize === 1 || bSize === 1 || aSize === bSize)) {
          restoreKernels('wasm');
          const own = tf.matMul(a, b, ta, tb);
          await installKernels('wasm');
          const ours = tf.matMul(a, b, ta, tb);
          expectAllClose(ours.dataSync(), own.dataSync(), { rtol: 1e-5, atol: 1e-5 * Math.sqrt(k), label });
          tf.dispose([own, ours]);
        }
        tf.dispose([a, b]);
      });
    }
  }

  it('takes both batched routes (loop and scalar) with equal results', async () => {
    const a = tf.randomNormal([6, 12, 10], 0, 1, 'float32', 3);
    const b = tf.randomNormal([6, 14, 10], 0, 1, 'float32', 4);
    const saved = wasmMatMulTuning.loopMinRows;
    try {
      wasmMatMulTuning.loopMinRows = 1;
      const loop = tf.matMul(a, b, false, true);
      wasmMatMulTuning.loopMinRows = 1e9;
      const scalar = tf.matMul(a, b, false, true);
      expectAllClose(loop.dataSync(), scalar.dataSync(), { rtol: 1e-5, atol: 1e-5 });
      tf.dispose([loop, scalar]);
    } finally {
      wasmMatMulTuning.loopMinRows = saved;
    }
    tf.dispose([a, b]);
  });

  /** a·op(b) on the current route, swapped and not, against the float64 reference, without leaks. */
  function checkSwap(label: string, aBatch: number[], m: number, k: number, n: number, tb: boolean): void {
    const a = tf.randomNormal([...aBatch, m, k], 0, 1, 'float32', 7);
    const b = tf.randomNormal(tb ? [n, k] : [k, n], 0, 1, 'float32', 8);
    const ref = referenceMatMul({ shape: a.shape, data: a.dataSync() as Float32Array }, { shape: b.shape, data: b.dataSync() as Float32Array }, false, tb);
    for (const swap of [true, false]) {
      wasmMatMulTuning.swapTransposedB = swap;
      const before = tf.memory();
      const out = tf.matMul(a, b, false, tb);
      expect(out.shape).toEqual(ref.shape);
      expectAllClose(out.dataSync(), ref.data, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(k), label: `${label} swap=${swap} tb=${tb} a[${aBatch}] m${m} k${k} n${n}` });
      out.dispose();
      expect(tf.memory().numBytes).toBe(before.numBytes);
    }
    tf.dispose([a, b]);
  }

  it('runs a·bᵀ and a·b with the wider b swapped ((b·aᵀ)ᵀ, (bᵀ·aᵀ)ᵀ) on XNNPACK and on the SIMD matmul, equal to the float64 reference', () => {
    const saved = wasmMatMulTuning.swapTransposedB;
    try {
      // SIMD kernels off: every product takes the XNNPACK route; on: rftkit's SIMD matmul.
      for (const simd of [false, true]) {
        setSimdKernelsEnabled(simd);
        for (const tb of [true, false]) {
          checkSwap(`simd=${simd}`, [], 5, 24, 37, tb);
          checkSwap(`simd=${simd}`, [3], 4, 16, 29, tb); // stacked rows 12 < 29: swapped
          checkSwap(`simd=${simd}`, [], 9, 8, 9, tb); // not wider: the plain route
        }
      }
    } finally {
      wasmMatMulTuning.swapTransposedB = saved;
      setSimdKernelsEnabled(true);
    }
  });

  it('returns zeros for an empty shared dimension and empty outputs', () => {
    const out = tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4]));
    expect(out.shape).toEqual([3, 4]);
    expect(Array.from(out.dataSync())).toEqual(new Array(12).fill(0));
    const empty = tf.matMul(tf.zeros([0, 5]), tf.ones([5, 2]));
    expect(empty.shape).toEqual([0, 2]);
    tf.dispose([out, empty]);
  });

  it('rejects mismatched inner dimensions like tf.matMul does', () => {
    expect(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2]))).toThrow(/inner shapes \(3\) and \(4\)/);
  });

  it('leaves no tensors, bytes or wasm heap growth behind over repeated calls', () => {
    const a = tf.randomNormal([8, 24, 16]);
    const b = tf.randomNormal([8, 24, 16]);
    const w = tf.randomNormal([16, 20]);
    const step = () => {
      const outs = [tf.matMul(a, b, false, true), tf.matMul(a, b, true, false), tf.matMul(a, w), tf.matMul(w, a, true, true)];
      tf.dispose(outs);
    };
    for (let i = 0; i < 5; i++) step();
    const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
    const before = tf.memory();
    for (let i = 0; i < 200; i++) step();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    expect((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength).toBe(heap);
    tf.dispose([a, b, w]);
  });

  it('gives the cpu backend gradients through matMul for every transpose combination', async () => {
    for (const [ta, tb] of FLAGS) {
      for (const [aBatch, bBatch] of [
        [[], []],
        [[3], [3]],
      ] as const) {
        const aShape = operandShape([...aBatch], 9, 6, ta);
        const bShape = operandShape([...bBatch], 6, 8, tb);
        const aVals = tf.randomNormal(aShape, 0, 1, 'float32', 5).dataSync();
        const bVals = tf.randomNormal(bShape, 0, 1, 'float32', 6).dataSync();
        const wVals = tf.randomNormal([...aBatch, 9, 8], 0, 1, 'float32', 7).dataSync();
        const grads = async (backend: 'cpu' | 'wasm') => {
          await selectBackend(backend);
          const a = tf.tensor(aVals, aShape);
          const b = tf.tensor(bVals, bShape);
          const w = tf.tensor(wVals, [...aBatch, 9, 8]);
          const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.tanh(tf.matMul(x, y, ta, tb)), w));
          const [ga, gb] = tf.grads(f)([a, b]);
          const result = [ga!.dataSync().slice(), gb!.dataSync().slice()];
          tf.dispose([a, b, w, ga!, gb!]);
          return result;
        };
        const cpu = await grads('cpu');
        const wasm = await grads('wasm');
        const label = `grad a[${aBatch}] ta=${ta} tb=${tb}`;
        expectAllClose(wasm[0]!, cpu[0]!, { rtol: 1e-4, atol: 1e-5, label });
        expectAllClose(wasm[1]!, cpu[1]!, { rtol: 1e-4, atol: 1e-5, label });
      }
    }
  });

  it('fused matMul with a bias (dense layers) equals the cpu backend, values and gradients, for every transpose', async () => {
    for (const [ta, tb] of FLAGS) {
      for (const [m, k, n] of [
        [9, 6, 8],
        [5, 3, 13],
        [130, 7, 12],
      ] as const) {
        const aShape = ta ? [k, m] : [m, k];
        const bShape = tb ? [n, k] : [k, n];
        const aVals = tf.randomNormal(aShape, 0, 1, 'float32', 8).dataSync();
        const bVals = tf.randomNormal(bShape, 0, 1, 'float32', 9).dataSync();
        const cVals = tf.randomNormal([n], 0, 1, 'float32', 10).dataSync();
        const wVals = tf.randomNormal([m, n], 0, 1, 'float32', 11).dataSync();
        const run = async (backend: 'cpu' | 'wasm') => {
          await selectBackend(backend);
          const [a, b, c, w] = [tf.tensor(aVals, aShape), tf.tensor(bVals, bShape), tf.tensor(cVals, [n]), tf.tensor(wVals, [m, n])];
          const f = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
            tf.sum(tf.mul(tf.tanh(tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, bias: z, transposeA: ta, transposeB: tb })), w));
          const y = tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: c, transposeA: ta, transposeB: tb });
          const grads = tf.grads(f)([a, b, c]);
          const out = [y, ...grads].map((t) => t.dataSync().slice());
          tf.dispose([a, b, c, w, y, ...grads]);
          return out;
        };
        const cpu = await run('cpu');
        const before = tf.memory().numTensors;
        const wasm = await run('wasm');
        expect(tf.memory().numTensors).toBe(before);
        ['y', 'grad a', 'grad b', 'grad bias'].forEach((what, i) => {
          expectAllClose(wasm[i]!, cpu[i]!, { rtol: 1e-4, atol: 1e-5, label: `${what} ${m}x${k}x${n} ta=${ta} tb=${tb}` });
        });
      }
    }
  });
});

