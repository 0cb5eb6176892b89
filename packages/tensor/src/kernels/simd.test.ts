import { describe, expect, it } from 'vitest';
import { expectAllClose } from '../testing/close';
import { seededUniform } from '../testing/random';
import { attentionBackward, attentionForward } from './js-attention';
import v8 from 'node:v8';
import { SIMD_MODULE, SIMD_MODULE_RELAXED, SIMD_MODULE_SHARED, SIMD_MODULE_SHARED_RELAXED } from './simd-module';

// Both builds of the SIMD module, each on a memory of its own kind, against the JavaScript
// kernels (the cpu backend's) on the same inputs. Independent of which build tfjs loaded.
type Kernels = Record<'attention_forward' | 'attention_backward' | 'matmul' | 'matmul_packed' | 'transpose', (...args: number[]) => void>;
interface Api {
  Module: { new (bytes: Uint8Array): object; imports(m: object): unknown[]; exports(m: object): Array<{ name: string }> };
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => { buffer: ArrayBufferLike };
  Instance: new (m: object, imports: object) => { exports: Kernels };
}
const WA = (globalThis as unknown as { WebAssembly: Api }).WebAssembly;

const lcg = seededUniform;

describe('SIMD kernels module', () => {
  for (const [label, base64, shared] of [
    ['plain memory', SIMD_MODULE, false],
    ['shared memory', SIMD_MODULE_SHARED, true],
  ] as const) {
    it(`${label}: imports only env.memory, exports the kernels, and matches the JavaScript kernels`, () => {
      const module = new WA.Module(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
      expect(WA.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
      expect(WA.Module.exports(module).map((e) => e.name).sort()).toEqual([
        'adam_update',
        'add_into',
        'attention_backward',
        'attention_forward',
        'column_sum',
        'gelu_backward',
        'gelu_forward',
        'layer_norm_backward',
        'layer_norm_forward',
        'matmul',
        'matmul_packed',
        'sum_of_squares',
        'token_logp_backward',
        'token_logp_forward',
        'transpose',
      ]);
      const memory = new WA.Memory(shared ? { initial: 4, maximum: 16, shared: true } : { initial: 4 });
      const k = new WA.Instance(module, { env: { memory } }).exports;

      // Grouped kv heads (4 query heads read 2), and a cache of 6 steps with 5 written.
      const d = { B: 2, Tq: 5, Tk: 6, L: 5, H: 4, KH: 2, dh: 8, causal: true };
      const D = d.H * d.dh;
      const nq = d.B * d.Tq * D;
      const nk = d.B * d.Tk * d.KH * d.dh;
      const np = d.B * d.H * d.Tq * d.Tk;
      // Lay the buffers out one after another, away from address 0.
      let at = 1024;
      const alloc = (n: number) => {
        const view = new Float32Array(memory.buffer, at, n);
        at += n * 4;
        return view;
      };
      const [q, kk, v, mask, out, probs, dout, dq, dk, dv] = [nq, nk, nk, d.B * d.Tk, nq, np, nq, nq, nk, nk].map(alloc) as Float32Array[];
      q!.set(lcg(nq, 1));
      kk!.set(lcg(nk, 2));
      v!.set(lcg(nk, 3));
      mask!.set([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
      dout!.set(lcg(nq, 4));
      const ptr = (a: Float32Array) => a.byteOffset;
      k.attention_forward(ptr(q!), ptr(kk!), ptr(v!), ptr(mask!), ptr(out!), ptr(probs!), d.B, d.Tq, d.Tk, d.L, d.H, d.KH, d.dh, 1);
      k.attention_backward(ptr(dout!), ptr(q!), ptr(kk!), ptr(v!), ptr(probs!), ptr(dq!), ptr(dk!), ptr(dv!), d.B, d.Tq, d.Tk, d.H, d.KH, d.dh);

      const js = { out: new Float32Array(nq), probs: new Float32Array(np), dq: new Float32Array(nq), dk: new Float32Array(nk), dv: new Float32Array(nk) };
      attentionForward(q!, kk!, v!, mask!, js.out, js.probs, d);
      attentionBackward(dout!, q!, kk!, v!, js.probs, js.dq, js.dk, js.dv, d);
      expectAllClose(probs!, js.probs, { rtol: 1e-5, atol: 1e-6, label: 'probs' });
      expectAllClose(out!, js.out, { rtol: 1e-5, atol: 1e-6, label: 'out' });
      expectAllClose(dq!, js.dq, { rtol: 1e-4, atol: 1e-6, label: 'dq' });
      expectAllClose(dk!, js.dk, { rtol: 1e-4, atol: 1e-6, label: 'dk' });
      expectAllClose(dv!, js.dv, { rtol: 1e-4, atol: 1e-6, label: 'dv' });
      // The first query of batch row 0 sees no key (its only causal key is masked): uniform
      // over the L keys written, 0 past them.
      expectAllClose(probs!.subarray(0, d.Tk), [0.2, 0.2, 0.2, 0.2, 0.2, 0], { rtol: 1e-6 });
    });
  }

  // Node 20 compiles relaxed SIMD only with this flag (core's loader sets it the same way).
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  for (const [label, base64, shared] of [
    ['plain', SIMD_MODULE, false],
    ['shared', SIMD_MODULE_SHARED, true],
    ['relaxed (fused multiply-add)', SIMD_MODULE_RELAXED, false],
    ['relaxed, shared', SIMD_MODULE_SHARED_RELAXED, true],
  ] as const) {
    it(`${label}: matmul_packed equals a float64 product for B stored [K,N] and [N,K], any A layout, bias, K and N in several blocks`, () => {
      const module = new WA.Module(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
      const memory = new WA.Memory(shared ? { initial: 64, maximum: 64, shared: true } : { initial: 64 });
      const k = new WA.Instance(module, { env: { memory } }).exports;
      const PANEL = 256 * 1024;
      // [9, 300, 1030]: K in blocks of 256 and 44, N in blocks of 1024 and 6 (the panel's width).
      for (const [M, K, N] of [
        [7, 5, 13],
        [4, 8, 8],
        [9, 300, 1030],
        [1, 3, 2],
      ] as const) {
        const panel = new Float32Array(memory.buffer, 0, PANEL);
        const a = new Float32Array(memory.buffer, panel.byteOffset + 4 * PANEL, M * K);
        const b = new Float32Array(memory.buffer, a.byteOffset + 4 * M * K, K * N);
        const bias = new Float32Array(memory.buffer, b.byteOffset + 4 * K * N, N);
        const ldc = N + 3;
        const c = new Float32Array(memory.buffer, bias.byteOffset + 4 * N, M * ldc);
        const av = lcg(M * K, 11);
        const bv = lcg(K * N, 12);
        bias.set(lcg(N, 13));
        for (const aTransposed of [false, true])
          for (const bTransposed of [false, true])
            for (const withBias of [false, true]) {
              // A [M,K] or stored [K,M]; B [K,N] or stored [N,K].
              for (let i = 0; i < M; i++) for (let p = 0; p < K; p++) a[aTransposed ? i + p * M : i * K + p] = av[i * K + p]!;
              for (let p = 0; p < K; p++) for (let j = 0; j < N; j++) b[bTransposed ? j * K + p : p * N + j] = bv[p * N + j]!;
              c.fill(Number.NaN);
              const [ars, acs] = aTransposed ? [1, M] : [K, 1];
              const [brs, bcs] = bTransposed ? [1, K] : [N, 1];
              k.matmul_packed(a.byteOffset, b.byteOffset, c.byteOffset, M, K, N, ars, acs, brs, bcs, ldc, withBias ? bias.byteOffset : 0, panel.byteOffset);
              const want = new Float64Array(M * N);
              const got = new Float32Array(M * N);
              for (let i = 0; i < M; i++)
                for (let j = 0; j < N; j++) {
                  let sum = withBias ? bias[j]! : 0;
                  for (let p = 0; p < K; p++) sum += av[i * K + p]! * bv[p * N + j]!;
                  want[i * N + j] = sum;
                  got[i * N + j] = c[i * ldc + j]!;
                  for (let pad = N; pad < ldc; pad++) expect(c[i * ldc + pad]).toBeNaN();
                }
              expectAllClose(got, want, { rtol: 1e-5, atol: 1e-5, label: `${M}x${K}x${N} a${aTransposed ? 'ᵀ' : ''} b${bTransposed ? 'ᵀ' : ''}${withBias ? ' bias' : ''}` });
            }
      }
    });

    it(`${label}: matmul equals a float64 product on every tile shape (4×8, 4×4, single columns, leftover rows)`, () => {
      const module = new WA.Module(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
      const memory = new WA.Memory(shared ? { initial: 64, maximum: 64, shared: true } : { initial: 64 });
      const k = new WA.Instance(module, { env: { memory } }).exports;
      for (const [M, K, N] of [
        [7, 5, 13],
        [8, 64, 16],
        [1, 3, 2],
        [5, 1, 9],
        // K·N above the kernel's L2 block (256K floats): K in blocks of 501, then 99.
        [6, 600, 523],
      ] as const) {
        const a = new Float32Array(memory.buffer, 1024, M * K);
        const b = new Float32Array(memory.buffer, 1024 + 4 * M * K, K * N);
        const c = new Float32Array(memory.buffer, 1024 + 4 * (M * K + K * N), M * N);
        a.set(lcg(M * K, 5));
        b.set(lcg(K * N, 6));
        c.fill(Number.NaN);
        k.matmul(a.byteOffset, b.byteOffset, c.byteOffset, M, K, N, K, 1, N, N, 0);
        const want = new Float64Array(M * N);
        for (let i = 0; i < M; i++) for (let p = 0; p < K; p++) for (let j = 0; j < N; j++) want[i * N + j] = want[i * N + j]! + a[i * K + p]! * b[p * N + j]!;
        expectAllClose(c, want, { rtol: 1e-5, atol: 1e-5, label: `${M}x${K}x${N}` });
        // Strided A (a transposed operand): element (i, p) at a[i + p·M].
        const at = new Float32Array(M * K);
        for (let i = 0; i < M; i++) for (let p = 0; p < K; p++) at[i + p * M] = a[i * K + p]!;
        a.set(at);
        c.fill(Number.NaN);
        k.matmul(a.byteOffset, b.byteOffset, c.byteOffset, M, K, N, 1, M, N, N, 0);
        expectAllClose(c, want, { rtol: 1e-5, atol: 1e-5, label: `${M}x${K}x${N} strided` });
        // With a bias [N] seeding every row.
        const bias = new Float32Array(memory.buffer, c.byteOffset + 4 * M * N, N);
        bias.set(lcg(N, 7));
        k.matmul(a.byteOffset, b.byteOffset, c.byteOffset, M, K, N, 1, M, N, N, bias.byteOffset);
        expectAllClose(c, Float64Array.from(want, (x, idx) => x + bias[idx % N]!), { rtol: 1e-5, atol: 1e-5, label: `${M}x${K}x${N} bias` });
        // A block of columns [j0, N) of B and C (rows ldb = ldc = N apart), the rest of C untouched.
        const j0 = Math.floor(N / 3);
        c.fill(Number.NaN);
        k.matmul(a.byteOffset, b.byteOffset + 4 * j0, c.byteOffset + 4 * j0, M, K, N - j0, 1, M, N, N, 0);
        for (let i = 0; i < M; i++) for (let j = 0; j < j0; j++) expect(c[i * N + j]).toBeNaN();
        const block = (x: ArrayLike<number>) => Float64Array.from({ length: M * (N - j0) }, (_, idx) => x[Math.floor(idx / (N - j0)) * N + j0 + (idx % (N - j0))]!);
        expectAllClose(block(c), block(want), { rtol: 1e-5, atol: 1e-5, label: `${M}x${K}x${N} columns from ${j0}` });
        // Transpose of two stacked [M, K] matrices (4×4 blocks and both edges).
        const src = new Float32Array(memory.buffer, bias.byteOffset + 4 * N, 2 * M * K);
        const dst = new Float32Array(memory.buffer, src.byteOffset + 4 * 2 * M * K, 2 * M * K);
        src.set(lcg(2 * M * K, 8));
        k.transpose(src.byteOffset, dst.byteOffset, 2, M, K);
        for (let bi = 0; bi < 2; bi++)
          for (let i = 0; i < M; i++)
            for (let p = 0; p < K; p++) expect(dst[bi * M * K + p * M + i]).toBe(src[bi * M * K + i * K + p]);
      }
    });
  }
});

