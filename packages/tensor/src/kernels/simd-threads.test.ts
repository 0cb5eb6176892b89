import { afterAll, describe, expect, it } from 'vitest';
import { expectAllClose } from '../testing/close';
import { seededUniform } from '../testing/random';
import { SIMD_MODULE_SHARED } from './simd-module';
import { SimdThreads, simdThreadTuning } from './simd-threads';

// The threaded matmul on a shared memory of its own, against the same kernel on one thread
// (bit for bit: every output is summed in the same order whichever thread writes it) and
// against a float64 product.
interface Api {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: ArrayBufferLike };
  Instance: new (
    m: object,
    imports: object,
  ) => { exports: { matmul: (...args: number[]) => void; matmul_packed: (...args: number[]) => void; adam_update: (...args: number[]) => void; add_into: (...args: number[]) => void; attention_forward: (...args: number[]) => void; attention_backward: (...args: number[]) => void } };
}
const WA = (globalThis as unknown as { WebAssembly: Api }).WebAssembly;

const module = new WA.Module(Uint8Array.from(atob(SIMD_MODULE_SHARED), (c) => c.charCodeAt(0)));
const memory = new WA.Memory({ initial: 128, maximum: 128, shared: true });
const kernels = new WA.Instance(module, { env: { memory } }).exports;
const { matmul, matmul_packed, adam_update, add_into } = kernels;
const PANEL_BYTES = 4 * 256 * 1024;
const { minMacs, minElementwise } = simdThreadTuning;
simdThreadTuning.minMacs = 0;
simdThreadTuning.minElementwise = 0;
const pool = new SimdThreads(module, memory, kernels, 3);
afterAll(() => {
  pool.stop();
  Object.assign(simdThreadTuning, { minMacs, minElementwise });
});

async function started(): Promise<void> {
  for (let i = 0; i < 500 && pool.threads === 1; i++) await new Promise((r) => setTimeout(r, 10));
}

describe('SIMD matmul on worker threads', () => {
  it('starts two workers beside the calling thread', async () => {
    await started();
    expect(pool.threads).toBe(3);
  });

  // Row parts (M ≥ 4 per thread), column parts (fewer rows), a strided (transposed) A, a bias,
  // a block of columns inside wider rows, and parts left empty (N smaller than 8 per thread).
  for (const [M, K, N, transposed, withBias] of [
    [37, 50, 29, false, false],
    [64, 96, 200, true, true],
    [3, 40, 45, false, true],
    [2, 33, 11, true, false],
    // The packed kernel's column parts (N ≥ 16 per thread) and its row parts.
    [40, 300, 70, false, true],
  ] as const) {
    it(`${M}×${K}·${K}×${N}${transposed ? ' (A transposed)' : ''}${withBias ? ' + bias' : ''}: matmul and matmul_packed equal one thread bit for bit, and float64`, async () => {
      await started();
      const view = (offset: number, n: number) => new Float32Array(memory.buffer, offset, n);
      const ldb = N + 3;
      const ldc = N + 5;
      const a = view(0, M * K);
      const b = view(a.byteOffset + 4 * M * K, K * ldb);
      const bias = view(b.byteOffset + 4 * K * ldb, N);
      const one = view(bias.byteOffset + 4 * N, M * ldc);
      const many = view(one.byteOffset + 4 * M * ldc, M * ldc);
      a.set(seededUniform(M * K, 1));
      b.set(seededUniform(K * ldb, 2));
      bias.set(seededUniform(N, 3));
      one.fill(7);
      many.fill(7);
      const [ars, acs] = transposed ? [1, M] : [K, 1];
      const biasAt = withBias ? bias.byteOffset : 0;
      matmul(a.byteOffset, b.byteOffset, one.byteOffset, M, K, N, ars, acs, ldb, ldc, biasAt);
      pool.run(a.byteOffset, b.byteOffset, many.byteOffset, M, K, N, ars, acs, ldb, ldc, biasAt);
      expect(Array.from(many)).toEqual(Array.from(one));
      const want = new Float64Array(M * N);
      const got = new Float32Array(M * N);
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = withBias ? bias[j]! : 0;
          for (let p = 0; p < K; p++) s += a[i * ars + p * acs]! * b[p * ldb + j]!;
          want[i * N + j] = s;
          got[i * N + j] = many[i * ldc + j]!;
        }
      expectAllClose(got, want, { rtol: 1e-5, atol: 1e-5 });
      // Padding between rows is never written.
      for (let i = 0; i < M; i++) for (let j = N; j < ldc; j++) expect(many[i * ldc + j]).toBe(7);

      // matmul_packed with B stored [N, K] (a·bᵀ), each thread packing into its own panel.
      const bt = view(many.byteOffset + 4 * M * ldc, N * K);
      for (let j = 0; j < N; j++) for (let p = 0; p < K; p++) bt[j * K + p] = b[p * ldb + j]!;
      const panels = bt.byteOffset + 4 * N * K;
      const packedOne = view(panels + 3 * PANEL_BYTES, M * ldc);
      const packedMany = view(packedOne.byteOffset + 4 * M * ldc, M * ldc);
      packedOne.fill(7);
      packedMany.fill(7);
      matmul_packed(a.byteOffset, bt.byteOffset, packedOne.byteOffset, M, K, N, ars, acs, 1, K, ldc, biasAt, panels);
      pool.runPacked(a.byteOffset, bt.byteOffset, packedMany.byteOffset, M, K, N, ars, acs, 1, K, ldc, biasAt, panels, PANEL_BYTES, 3);
      expect(Array.from(packedMany)).toEqual(Array.from(packedOne));
      const gotPacked = Float32Array.from({ length: M * N }, (_, idx) => packedMany[Math.floor(idx / N) * ldc + (idx % N)]!);
      expectAllClose(gotPacked, want, { rtol: 1e-5, atol: 1e-5 });
    });
  }

  // Adam is elementwise: ranges cut at 16-float lines, the last one ragged, or empty ones
  // when there are fewer lines than threads.
  for (const n of [1003, 40, 5]) {
    it(`adam_update over ${n} parameters equals one thread bit for bit`, async () => {
      await started();
      const view = (i: number) => new Float32Array(memory.buffer, 4 * 2048 * i, n);
      const [x, g, m, v] = [0, 1, 2, 3].map((i) => view(i).fill(0)) as [Float32Array, Float32Array, Float32Array, Float32Array];
      x.set(seededUniform(n, 11));
      g.set(seededUniform(n, 12, 0.1));
      m.set(seededUniform(n, 13, 0.01));
      v.set(seededUniform(n, 14, 0.01).map(Math.abs));
      const outs = (base: number): Float32Array[] => [view(base), view(base + 1), view(base + 2)].map((o) => o.fill(7));
      const [one, many] = [outs(4), outs(7)];
      const scalars = [1e-3, 0.9, 0.999, 1e-8, 0.998, 0.01, 0, Math.fround(0.1), Math.fround(0.001)];
      const ptrs = (o: Float32Array[]) => [x, g, m, v, ...o].map((t) => t!.byteOffset);
      adam_update(...ptrs(one!), n, ...scalars);
      pool.runAdam(ptrs(many!), n, scalars);
      one!.forEach((o, i) => {
        expect(Array.from(many![i]!)).toEqual(Array.from(o));
      });
      expect(one![0]!.some((value, i) => value !== x[i])).toBe(true);
    });
  }

  for (const n of [1003, 5]) {
    it(`add_into over ${n} values equals one thread bit for bit and a float32 sum`, async () => {
      await started();
      const view = (i: number) => new Float32Array(memory.buffer, 4 * 2048 * i, n);
      const [one, many, b] = [view(0), view(1), view(2)];
      one.set(seededUniform(n, 21));
      many.set(one);
      b.set(seededUniform(n, 22));
      const want = Array.from(one, (a, i) => Math.fround(a + b[i]!));
      add_into(one.byteOffset, b.byteOffset, n);
      pool.runAddInto(many.byteOffset, b.byteOffset, n);
      expect(Array.from(one)).toEqual(want);
      expect(Array.from(many)).toEqual(want);
    });
  }
});
