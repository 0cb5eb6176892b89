import * as tf from '@tensorflow/tfjs-core';
import { OutOfMemoryError } from '@rftkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backend';
import { guardWasmHeap, WASM_HEAP_LIMIT_BYTES } from './wasm-heap';

describe('wasm heap guard', () => {
  it('turns a malloc that returns 0 into OutOfMemoryError naming the request and the heap', () => {
    const calls: number[] = [];
    const module = {
      HEAPU8: new Uint8Array(1024),
      _malloc(bytes: number) {
        calls.push(bytes);
        return bytes > 100 ? 0 : 8;
      },
    };
    guardWasmHeap(module);
    guardWasmHeap(module); // idempotent: one wrapper, not two
    expect(module._malloc(64)).toBe(8);
    expect(module._malloc(0)).toBe(8);
    const error = (() => {
      try {
        module._malloc(3 * 2 ** 20);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect((error as OutOfMemoryError).code).toBe('E_MEMORY');
    expect((error as OutOfMemoryError).requestedBytes).toBe(3 * 2 ** 20);
    expect((error as Error).message).toMatch(/a tensor of 3 MB did not fit in the wasm heap \(heap 0 MB of its 4096 MB limit/);
    expect((error as Error).message).toMatch(/microBatchSamples/);
    expect(calls).toEqual([64, 0, 3 * 2 ** 20]);
  });

  it('never passes a size of 4 GiB or more to malloc, where it would wrap to a small one', () => {
    const calls: number[] = [];
    const module = {
      HEAPU8: new Uint8Array(8),
      _malloc(bytes: number) {
        calls.push(bytes);
        return 16;
      },
    };
    guardWasmHeap(module);
    expect(() => module._malloc(WASM_HEAP_LIMIT_BYTES + 16)).toThrow(OutOfMemoryError);
    expect(calls).toEqual([]);
  });

  describe('on the wasm backend', () => {
    beforeAll(async () => {
      await selectBackend('wasm');
    });

    it('a tensor larger than the heap can ever be fails at its allocation, and the backend keeps working', () => {
      const before = tf.memory().numTensors;
      // 2^30 + 1 floats: 4 GiB + 4 bytes, more than wasm32 can address.
      expect(() => tf.zeros([2 ** 30 + 1])).toThrow(/did not fit in the wasm heap/);
      expect(tf.memory().numTensors).toBe(before);
      const sum = tf.tidy(() => Array.from(tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync()));
      expect(sum).toEqual([4, 6]);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
