import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { ATTENTION, JS_KERNEL_BACKENDS } from '../kernels/js-kernels';
import { setSimdKernelsEnabled, simdKernels } from '../kernels/simd';
import { isWasmBackend } from '../kernels/wasm-internals';
import { describeBackends } from '../testing/backends';
import { seededTensor } from '../testing/random';
import { expectAllClose } from '../testing/close';
import { attention, attentionComposite } from './attention';

const randn = seededTensor;

describeBackends('attention', (backend) => {
  it('runs as one kernel (SIMD on wasm; native ops on tensorflow) and matches a hand-computed single-head case', () => {
    // One head, dh = 1, three keys; the third is hidden by the mask.
    const q = tf.tensor3d([2], [1, 1, 1]);
    const k = tf.tensor3d([0, 1, 5], [1, 3, 1]);
    const v = tf.tensor3d([1, 3, 100], [1, 3, 1]);
    const mask = tf.tensor2d([[1, 1, 0]]);
    const y = attention(q, k, v, mask, { heads: 1, causal: false });
    // One kernel on wasm and cpu; a composite of native ops on tensorflow.
    expect(tf.getKernel(ATTENTION, backend) !== undefined).toBe((JS_KERNEL_BACKENDS as readonly string[]).includes(backend));
    if (backend === 'wasm') {
      const b = tf.backend();
      expect(isWasmBackend(b) && simdKernels(b) !== undefined).toBe(true);
    }
    // Scores 0 and 2 → weights 1/(1+e²) and e²/(1+e²).
    const e2 = Math.exp(2);
    expectAllClose(y.dataSync(), [(1 + 3 * e2) / (1 + e2)], { rtol: 1e-6 });
    tf.dispose([q, k, v, mask, y]);
  });

  for (const [label, shape, causal] of [
    ['causal self-attention with left padding (dh a multiple of 4: vector path)', { B: 3, Tq: 6, Tk: 6, H: 2, dh: 8 }, true],
    ['one query over a cache (decode)', { B: 4, Tq: 1, Tk: 7, H: 4, dh: 16 }, false],
    ['causal, fewer queries than keys, odd head size (scalar path)', { B: 3, Tq: 3, Tk: 5, H: 2, dh: 3 }, true],
  ] as const) {
    it(`${label}: equals the composite op, values and gradients, without leaks`, () => {
      const { B, Tq, Tk, H, dh } = shape;
      const D = H * dh;
      const q = randn([B, Tq, D], 1, 1.5) as tf.Tensor3D;
      const k = randn([B, Tk, D], 2, 1.5) as tf.Tensor3D;
      const v = randn([B, Tk, D], 3) as tf.Tensor3D;
      // Row 0 sees every key; row 1 has two left-padded keys; row 2 sees only the last key,
      // so with causal masking its early queries see none.
      const m = new Float32Array(B * Tk).fill(1);
      m[Tk] = 0;
      m[Tk + 1] = 0;
      for (let j = 0; j < Tk - 1; j++) m[2 * Tk + j] = 0;
      const mask = tf.tensor2d(m, [B, Tk]);
      const w = randn([B, Tq, D], 4);
      const opts = { heads: H, causal };
      const before = tf.memory().numTensors;
      const run = (f: typeof attention) => {
        const g = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.mul(f(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, mask, opts), w)),
        );
        const { value, grads } = g([q, k, v]);
        const y = f(q, k, v, mask, opts);
        return { y, value, grads };
      };
      const fused = run(attention);
      const comp = run(attentionComposite);
      const yf = fused.y.dataSync();
      expect(yf.every(Number.isFinite)).toBe(true);
      expectAllClose(yf, comp.y.dataSync(), { rtol: 1e-5, atol: 1e-5 });
      fused.grads.forEach((g, i) => {
        expect(g.shape).toEqual(comp.grads[i]!.shape);
        expectAllClose(g.dataSync(), comp.grads[i]!.dataSync(), { rtol: 1e-4, atol: 1e-5, label: `grad ${'qkv'[i]}` });
      });
      tf.dispose([fused.y, fused.value, ...fused.grads, comp.y, comp.value, ...comp.grads]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([q, k, v, mask, w]);
    });
  }

  /** kv heads repeated for every query head of their group, as transformers' repeat_kv. */
  const repeatKv = (x: tf.Tensor3D, kvHeads: number, heads: number) => {
    const [B, T, DK] = x.shape;
    const dh = DK / kvHeads;
    const copies = tf.concat(new Array<tf.Tensor>(heads / kvHeads).fill(tf.reshape(x, [B, T, kvHeads, 1, dh])), 3);
    return tf.reshape(copies, [B, T, heads * dh]) as tf.Tensor3D;
  };

  for (const [label, shape, causal] of [
    ['grouped-query causal self-attention with left padding', { B: 2, Tq: 5, Tk: 5, H: 6, KH: 2, dh: 8 }, true],
    ['grouped-query decode over a cache, one kv head (multi-query)', { B: 3, Tq: 1, Tk: 9, H: 4, KH: 1, dh: 4 }, false],
    ['grouped-query, odd head size (scalar path)', { B: 2, Tq: 3, Tk: 4, H: 4, KH: 2, dh: 3 }, true],
  ] as const) {
    it(`${label}: kv heads are read in place, equal to attention over repeated kv heads`, () => {
      const { B, Tq, Tk, H, KH, dh } = shape;
      const q = randn([B, Tq, H * dh], 11, 1.5) as tf.Tensor3D;
      const k = randn([B, Tk, KH * dh], 12, 1.5) as tf.Tensor3D;
      const v = randn([B, Tk, KH * dh], 13) as tf.Tensor3D;
      const m = new Float32Array(B * Tk).fill(1);
      m[Tk] = 0; // row 1: one left-padded key
      const mask = tf.tensor2d(m, [B, Tk]);
      const w = randn([B, Tq, H * dh], 14);
      const before = tf.memory().numTensors;
      const grouped = { heads: H, kvHeads: KH, causal };
      const run = (f: (a: tf.Tensor3D, b: tf.Tensor3D, c: tf.Tensor3D) => tf.Tensor3D) => {
        const g = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D), w)));
        return { y: tf.tidy(() => f(q, k, v)), ...g([q, k, v]) };
      };
      const reference = run((a, b, c) => attentionComposite(a, repeatKv(b, KH, H), repeatKv(c, KH, H), mask, { heads: H, causal }));
      for (const [name, f] of [
        ['attention', (a: tf.Tensor3D, b: tf.Tensor3D, c: tf.Tensor3D) => attention(a, b, c, mask, grouped)],
        ['attentionComposite', (a: tf.Tensor3D, b: tf.Tensor3D, c: tf.Tensor3D) => attentionComposite(a, b, c, mask, grouped)],
      ] as const) {
        const got = run(f);
        expect(got.y.shape).toEqual([B, Tq, H * dh]);
        expectAllClose(got.y.dataSync(), reference.y.dataSync(), { rtol: 1e-5, atol: 1e-5, label: name });
        got.grads.forEach((g, i) => {
          expect(g.shape).toEqual(reference.grads[i]!.shape);
          expectAllClose(g.dataSync(), reference.grads[i]!.dataSync(), { rtol: 1e-4, atol: 1e-5, label: `${name} grad ${'qkv'[i]}` });
        });
        tf.dispose([got.y, got.value, ...got.grads]);
      }
      tf.dispose([reference.y, reference.value, ...reference.grads]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([q, k, v, mask, w]);
    });
  }

  it('keyLength: keys past it are never read (values and gradients as over the keys before it)', () => {
    const [B, Tq, Tk, L, H, KH, dh] = [2, 2, 7, 5, 4, 2, 4];
    const q = randn([B, Tq, H * dh], 21) as tf.Tensor3D;
    const k = randn([B, Tk, KH * dh], 22) as tf.Tensor3D;
    const v = randn([B, Tk, KH * dh], 23) as tf.Tensor3D;
    const mask = tf.ones([B, Tk]) as tf.Tensor2D;
    const w = randn([B, Tq, H * dh], 24);
    const opts = { heads: H, kvHeads: KH, causal: true };
    const before = tf.memory().numTensors;
    const loss = (f: (a: tf.Tensor3D, b: tf.Tensor3D, c: tf.Tensor3D) => tf.Tensor3D) =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D), w)))([q, k, v]);
    const prefix = (x: tf.Tensor3D) => tf.slice(x, [0, 0, 0], [B, L, -1]);
    const reference = loss((a, b, c) => attention(a, prefix(b), prefix(c), tf.slice(mask, [0, 0], [B, L]), opts));
    for (const f of [attention, attentionComposite]) {
      const got = loss((a, b, c) => f(a, b, c, mask, { ...opts, keyLength: L }));
      got.forEach((g, i) => {
        expectAllClose(g.dataSync(), reference[i]!.dataSync(), { rtol: 1e-5, atol: 1e-6, label: `grad ${'qkv'[i]}` });
      });
      tf.dispose(got);
    }
    tf.dispose(reference);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => attention(q, k, v, mask, { ...opts, keyLength: Tk + 1 })).toThrow(/keyLength=8/);
    tf.dispose([q, k, v, mask, w]);
  });

  it('with the SIMD kernels off (RFTKIT_WASM_SIMD=0) the JavaScript kernels run, with the same results', () => {
    const q = randn([2, 5, 8], 7) as tf.Tensor3D;
    const k = randn([2, 5, 8], 8) as tf.Tensor3D;
    const v = randn([2, 5, 8], 9) as tf.Tensor3D;
    const mask = tf.tensor2d([0, 1, 1, 1, 1, 1, 1, 1, 1, 1], [2, 5]);
    const opts = { heads: 2, causal: true };
    const simd = attention(q, k, v, mask, opts);
    setSimdKernelsEnabled(false);
    try {
      const b = tf.backend();
      expect(isWasmBackend(b) ? simdKernels(b) : undefined).toBeUndefined();
      const js = attention(q, k, v, mask, opts);
      expectAllClose(js.dataSync(), simd.dataSync(), { rtol: 1e-5, atol: 1e-6 });
      js.dispose();
    } finally {
      setSimdKernelsEnabled(true);
    }
    tf.dispose([q, k, v, mask, simd]);
  });

  it('a query that sees no key averages every value, as the composite form does', () => {
    const q = randn([1, 2, 4], 5) as tf.Tensor3D;
    const k = randn([1, 3, 4], 6) as tf.Tensor3D;
    const v = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 3, 4]);
    const mask = tf.zeros([1, 3]) as tf.Tensor2D;
    const y = attention(q, k, v, mask, { heads: 2, causal: true });
    expectAllClose(y.dataSync(), [5, 6, 7, 8, 5, 6, 7, 8], { rtol: 1e-6 });
    tf.dispose([q, k, v, mask, y]);
  });

  it('names the shapes it expected when they do not fit', () => {
    const q = tf.zeros([1, 2, 6]) as tf.Tensor3D;
    const k = tf.zeros([1, 3, 6]) as tf.Tensor3D;
    const mask = tf.ones([1, 3]) as tf.Tensor2D;
    expect(() => attention(q, k, k, mask, { heads: 4, causal: false })).toThrow(/kvHeads dividing heads and 1 ≤ keyLength ≤ Tk; got heads=4/);
    expect(() => attention(q, k, k, mask, { heads: 2, kvHeads: 4, causal: false })).toThrow(/kvHeads=4/);
    expect(() => attention(q, tf.zeros([1, 3, 2]) as tf.Tensor3D, k, mask, { heads: 3, kvHeads: 1, causal: false })).toThrow(/v \[1,3,6\]/);
    expect(() => attention(q, k, tf.zeros([1, 2, 6]) as tf.Tensor3D, mask, { heads: 2, causal: false })).toThrow(/v \[1,2,6\]/);
    tf.dispose([q, k, mask]);
  });
});
