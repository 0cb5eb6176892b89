import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend';
import { wasmMatMulTuning } from './kernels/wasm-batch-matmul';
import { expectAllClose } from './testing/close';
import { seededUniform } from './testing/random';
import { wasmThreads, withWasmThreads } from './wasm-threads';

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
    const a = tf.tensor3d(lcg(4 * 64 * 48, 3), [4, 64, 48]);
    const b = tf.tensor3d(lcg(4 * 40 * 48, 4), [4, 40, 48]);
    wasmMatMulTuning.threadMinMacs = 0;
    const threaded = tf.matMul(a, b, false, true);
    wasmMatMulTuning.threadMinMacs = Number.POSITIVE_INFINITY;
    const single = tf.matMul(a, b, false, true);
    expectAllClose(threaded.dataSync(), single.dataSync(), { rtol: 1e-5, atol: 1e-5 });
    tf.dispose([a, b, threaded, single]);
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
