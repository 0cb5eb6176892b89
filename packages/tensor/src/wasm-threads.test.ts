import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { selectBackend } from './backend';
import { wasmMatMulTuning } from './kernels/wasm-batch-matmul';
import { expectAllClose } from './testing/close';
import { seededUniform } from './testing/random';
import { wasmThreads, withWasmThreads } from './wasm-threads';
import { setSimdThreadsEnabled, simdThreads } from './kernels/simd';
import { simdThreadTuning } from './kernels/simd-threads';
import { adamStep } from './ops/adam';
import { attention } from './ops/attention';
import { addInto } from './ops/add-into';
import type { WasmBackend } from './kernels/wasm-internals';

// This file is the first to initialise wasm in its process (vitest runs each file in a
// fresh fork), so the threaded build loads here even on a one-core machine.
describe('multi-threaded wasm backend', () => {
  let threads = 0;
  beforeAll(async () => {
    threads = (await selectBackend('wasm', { threads: 2 })).threads ?? 0;
  });
  const minMacs = wasmMatMulTuning.threadMinMacs;
  afterEach(() => {
    wasmMatMulTuning.threadMinMacs = minMacs;
    wasmMatMulTuning.simdThreads = true;
  });

  const lcg = seededUniform;

  function reference(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
    const out = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let p = 0; p < k; p++) {
        const av = a[i * k + p] as number;
        for (let j = 0; j < n; j++) out[i * n + j] = (out[i * n + j] as number) + av * (b[p * n + j] as number);
      }
    return out;
  }

  it('runs XNNPACK on two threads and reports them', () => {
    expect(threads).toBe(2);
    expect(wasmThreads()).toBe(2);
  });

  it('threads big products on XNNPACK and computes them right', () => {
    wasmMatMulTuning.simdThreads = false;
    const [m, k, n] = [300, 96, 200];
    const a = lcg(m * k, 1);
    const b = lcg(k * n, 2);
    const at = tf.tensor2d(a, [m, k]);
    const bt = tf.tensor2d(b, [k, n]);
    const before = tf.memory().numTensors;
    wasmMatMulTuning.threadMinMacs = 0;
    const threaded = tf.matMul(at, bt);
    wasmMatMulTuning.threadMinMacs = Number.POSITIVE_INFINITY;
    const single = tf.matMul(at, bt);
    const t = threaded.dataSync();
    const want = reference(a, b, m, k, n);
    expectAllClose(t, want, { rtol: 1e-5, atol: 1e-5, label: 'threaded' });
    expectAllClose(single.dataSync(), want, { rtol: 1e-5, atol: 1e-5, label: 'one thread' });
    tf.dispose([threaded, single]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([at, bt]);
  });

  it('threads the transposed and batched paths too, with the same results within rounding', () => {
    wasmMatMulTuning.simdThreads = false;
    const a = tf.tensor3d(lcg(4 * 64 * 48, 3), [4, 64, 48]);
    const b = tf.tensor3d(lcg(4 * 40 * 48, 4), [4, 40, 48]);
    wasmMatMulTuning.threadMinMacs = 0;
    const threaded = tf.matMul(a, b, false, true);
    wasmMatMulTuning.threadMinMacs = Number.POSITIVE_INFINITY;
    const single = tf.matMul(a, b, false, true);
    expectAllClose(threaded.dataSync(), single.dataSync(), { rtol: 1e-5, atol: 1e-5 });
    tf.dispose([a, b, threaded, single]);
  });

  it("splits big products across rftkit's SIMD matmul threads, bit for bit the one-thread result", async () => {
    const backend = tf.backend() as unknown as WasmBackend;
    for (let i = 0; i < 500 && (simdThreads(backend)?.threads ?? 1) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    const pool = simdThreads(backend);
    expect(pool?.threads).toBe(2);
    const runs = vi.spyOn(pool as NonNullable<typeof pool>, 'run');
    const packedRuns = vi.spyOn(pool as NonNullable<typeof pool>, 'runPacked');
    // A linear layer's forward (a·Wᵀ, swapped), its dx (dy·W) and dW (dyᵀ·x, packed) products,
    // and a prefill's forward and dx over many rows (packed).
    for (const [aShape, bShape, tA, tB] of [
      [[64, 576], [1536, 576], false, true],
      [[64, 1536], [1536, 576], false, false],
      [[64, 576], [64, 1536], true, false],
      [[300, 576], [1536, 576], false, true],
      [[300, 1536], [1536, 576], false, false],
    ] as const) {
      const a = tf.tensor(lcg(aShape[0] * aShape[1], 5), [...aShape]);
      const b = tf.tensor(lcg(bShape[0] * bShape[1], 6), [...bShape]);
      const before = tf.memory().numTensors;
      const threaded = tf.matMul(a, b, tA, tB);
      // The SIMD matmul on the calling thread alone.
      wasmMatMulTuning.simdThreads = false;
      wasmMatMulTuning.threadMinMacs = Number.POSITIVE_INFINITY;
      const single = tf.matMul(a, b, tA, tB);
      wasmMatMulTuning.simdThreads = true;
      expect(Array.from(threaded.dataSync())).toEqual(Array.from(single.dataSync()));
      tf.dispose([threaded, single]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([a, b]);
    }
    expect(runs).toHaveBeenCalledTimes(2);
    expect(packedRuns).toHaveBeenCalledTimes(3);
    runs.mockRestore();
    packedRuns.mockRestore();
  });

  /** rftkit's SIMD worker pool once both threads have started. */
  const startedPool = async () => {
    const backend = tf.backend() as unknown as WasmBackend;
    for (let i = 0; i < 500 && (simdThreads(backend)?.threads ?? 1) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    return simdThreads(backend) as NonNullable<ReturnType<typeof simdThreads>>;
  };

  it("splits a large Adam update across rftkit's SIMD threads, bit for bit the one-thread result", async () => {
    const pool = await startedPool();
    const runs = vi.spyOn(pool, 'runAdam');
    const n = 600_001;
    expect(n).toBeGreaterThanOrEqual(simdThreadTuning.minElementwise);
    const [x, g, m, v] = [21, 22, 23, 24].map((seed, i) => tf.tensor1d(i === 3 ? lcg(n, seed).map(Math.abs) : lcg(n, seed)));
    const o = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 3, weightDecay: 0.01, mode: 'adamw' as const };
    const before = tf.memory().numTensors;
    const threaded = adamStep(x!, g!, m!, v!, o);
    setSimdThreadsEnabled(false);
    const single = adamStep(x!, g!, m!, v!, o);
    setSimdThreadsEnabled(true);
    threaded.forEach((t, i) => {
      expect(Array.from(t.dataSync())).toEqual(Array.from(single[i]!.dataSync()));
    });
    expect(runs).toHaveBeenCalledTimes(1);
    expect(pool.threads).toBe(2);
    tf.dispose([...threaded, ...single]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x!, g!, m!, v!]);
    runs.mockRestore();
  });

  it("adds a large gradient into its accumulator in place on rftkit's SIMD threads, bit for bit tf.add", async () => {
    const pool = await startedPool();
    const runs = vi.spyOn(pool, 'runAddInto');
    const n = 600_001;
    const [acc, g] = [31, 32].map((seed) => tf.tensor1d(lcg(n, seed)));
    const want = tf.add(acc!, g!);
    const before = tf.memory().numTensors;
    const sum = addInto(acc!, g!);
    expect(sum).toBe(acc);
    expect(runs).toHaveBeenCalledTimes(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(sum.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([acc!, g!, want]);
    runs.mockRestore();
  });

  it("runs attention's forward and backward on rftkit's SIMD threads by batch rows, bit for bit one thread", async () => {
    const pool = await startedPool();
    const forward = vi.spyOn(pool, 'runAttentionForward');
    const backward = vi.spyOn(pool, 'runAttentionBackward');
    const [B, T, H, KH, dh] = [3, 40, 6, 2, 16];
    const q = tf.tensor3d(lcg(B * T * H * dh, 41), [B, T, H * dh]);
    const k = tf.tensor3d(lcg(B * T * KH * dh, 42), [B, T, KH * dh]);
    const v = tf.tensor3d(lcg(B * T * KH * dh, 43), [B, T, KH * dh]);
    const mask = tf.ones([B, T]) as tf.Tensor2D;
    const w = tf.tensor3d(lcg(B * T * H * dh, 44), [B, T, H * dh]);
    const before = tf.memory().numTensors;
    const run = () =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(attention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, mask, { heads: H, kvHeads: KH, causal: true }), w)),
      )([q, k, v]);
    const threaded = run();
    setSimdThreadsEnabled(false);
    const single = run();
    setSimdThreadsEnabled(true);
    threaded.forEach((t, i) => {
      expect(Array.from(t.dataSync())).toEqual(Array.from(single[i]!.dataSync()));
    });
    expect(forward).toHaveBeenCalledTimes(1);
    expect(backward).toHaveBeenCalledTimes(1);
    tf.dispose([...threaded, ...single]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k, v, mask, w]);
    forward.mockRestore();
    backward.mockRestore();
  });

  it('puts the one-thread pool back after a threaded call, even when it throws', () => {
    const wasm = (tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number } } }).wasm;
    expect(wasm.tfjs.getThreadsCount()).toBe(1);
    expect(withWasmThreads(() => wasm.tfjs.getThreadsCount())).toBe(2);
    expect(() =>
      withWasmThreads(() => {
        throw new Error('inside');
      }),
    ).toThrow('inside');
    expect(wasm.tfjs.getThreadsCount()).toBe(1);
  });

  it('rejects a thread count outside 1–4, naming the option or the variable', async () => {
    await expect(selectBackend('wasm', { threads: 9 })).rejects.toThrow(/threads: must be an integer from 1 to 4, got 9/);
    await expect(selectBackend('cpu', { threads: 0 })).rejects.toThrow(/threads/);
    process.env.RFTKIT_WASM_THREADS = 'x';
    try {
      await expect(selectBackend('wasm')).rejects.toThrow(/RFTKIT_WASM_THREADS \(environment\): must be an integer from 1 to 4, got x/);
    } finally {
      delete process.env.RFTKIT_WASM_THREADS;
    }
  });
});
