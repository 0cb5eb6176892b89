import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../testing/backends';
import { seededTensor } from '../testing/random';
import { expectAllClose } from '../testing/close';
import { attention } from './attention';
import { KvCache } from './kv-cache';

describeBackends('KvCache', (backend) => {
  it('holds what a concat of the appended steps holds, in place on wasm and cpu, without leaks', () => {
    const parts = [seededTensor([3, 4, 5], 1), seededTensor([3, 1, 5], 2), seededTensor([3, 2, 5], 3)] as tf.Tensor3D[];
    const before = tf.memory().numTensors;
    for (const inPlace of [true, false]) {
      const cache = new KvCache(3, 8, 5, { inPlace });
      expect(cache.inPlace).toBe(inPlace && (backend === 'wasm' || backend === 'cpu'));
      const id = cache.tensor.dataId;
      for (const p of parts) cache.append(p);
      expect(cache.length).toBe(7);
      tf.tidy(() => {
        const expected = tf.concat(parts, 1);
        const got = cache.inPlace ? tf.slice(cache.tensor, [0, 0, 0], [3, 7, 5]) : cache.tensor;
        expect(got.shape).toEqual([3, 7, 5]);
        expect(Array.from(got.dataSync())).toEqual(Array.from(expected.dataSync()));
        // In place: one buffer all along, untouched past what was written.
        if (cache.inPlace) {
          expect(cache.tensor.dataId).toBe(id);
          expect(Array.from(tf.slice(cache.tensor, [0, 7, 0], [3, 1, 5]).dataSync()).every((x) => x === 0)).toBe(true);
        }
      });
      cache.dispose();
      cache.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(parts);
  });

  it('attention over the buffer with keyLength equals attention over the keys written', () => {
    const [B, H, KH, dh] = [2, 4, 2, 8];
    const cache = { k: new KvCache(B, 10, KH * dh), v: new KvCache(B, 10, KH * dh) };
    const keys = seededTensor([B, 6, KH * dh], 4) as tf.Tensor3D;
    const values = seededTensor([B, 6, KH * dh], 5) as tf.Tensor3D;
    cache.k.append(keys);
    cache.v.append(values);
    const q = seededTensor([B, 1, H * dh], 6) as tf.Tensor3D;
    const mask = tf.tensor2d([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [B, 6]);
    const before = tf.memory().numTensors;
    const expected = attention(q, keys, values, mask, { heads: H, kvHeads: KH, causal: false });
    const wide = tf.tidy(() => tf.concat([mask, tf.zeros([B, cache.k.tensor.shape[1] - 6])], 1)) as tf.Tensor2D;
    const got = attention(q, cache.k.tensor, cache.v.tensor, wide, { heads: H, kvHeads: KH, causal: false, keyLength: cache.k.length });
    expectAllClose(got.dataSync(), expected.dataSync(), { rtol: 1e-6, atol: 1e-7 });
    tf.dispose([expected, got, wide]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([keys, values, q, mask]);
    cache.k.dispose();
    cache.v.dispose();
  });

  it('retain keeps the given rows, then appends go on after them', () => {
    const first = seededTensor([3, 2, 4], 7) as tf.Tensor3D;
    const then = seededTensor([2, 1, 4], 8) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    for (const inPlace of [true, false]) {
      const cache = new KvCache(3, 5, 4, { inPlace });
      cache.append(first);
      cache.retain([0, 2]);
      expect(cache.batch).toBe(2);
      cache.append(then);
      tf.tidy(() => {
        const expected = tf.concat([tf.gather(first, [0, 2]), then], 1);
        const got = tf.slice(cache.tensor, [0, 0, 0], [2, 3, 4]);
        expect(Array.from(got.dataSync())).toEqual(Array.from(expected.dataSync()));
      });
      expect(() => cache.retain([2])).toThrow(/rows\[0\] = 2 is not a row of 2/);
      cache.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([first, then]);
  });

  it('names what does not fit', () => {
    const cache = new KvCache(2, 3, 4);
    const x = tf.zeros([2, 2, 4]) as tf.Tensor3D;
    cache.append(x);
    expect(() => cache.append(x)).toThrow(/2 of 3 steps are used; 2 more do not fit/);
    const wrong = tf.zeros([2, 1, 5]) as tf.Tensor3D;
    expect(() => cache.append(wrong)).toThrow(/expected float32 \[2, n, 4\], got float32 \[2,1,5\]/);
    cache.dispose();
    expect(() => cache.tensor).toThrow(/disposed/);
    tf.dispose([x, wrong]);
  });
});
