import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backend';
import { expectAllClose } from '../testing/close';
import { installKernels, restoreKernels } from './index';
import { originalKernel } from './override';

/** Runs `f` with tfjs' own wasm kernels and with rftkit's; returns both results. */
function both(f: () => tf.Tensor): [tf.Tensor, tf.Tensor] {
  restoreKernels('wasm');
  const own = f();
  void installKernels('wasm');
  const ours = f();
  return [own, ours];
}

describe('wasm Pow and Sum overrides', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  afterAll(async () => {
    await installKernels('wasm');
  });

  it('are installed', () => {
    expect(originalKernel('Pow', 'wasm')).toBeDefined();
    expect(originalKernel('Sum', 'wasm')).toBeDefined();
  });

  for (const exponent of [0, 1, 2, 3, 4, 0.5, -1, 2.5]) {
    it(`pow(x, ${exponent}) equals tfjs' kernel and Math.pow`, () => {
      // No 0 for negative exponents: the close check cannot compare infinities.
      const x = tf.tensor2d([-2.5, -1, -0.3, exponent < 0 ? 0.1 : 0, 0.7, 1, 1.9, 3.25, 10, -7], [2, 5]);
      const xs = x.dataSync();
      const before = tf.memory();
      const [own, ours] = both(() => tf.pow(x, exponent));
      expect(ours.shape).toEqual([2, 5]);
      const expected = Array.from(xs, (v) => v ** exponent);
      expectAllClose(ours.dataSync(), expected, { rtol: 1e-6, atol: 1e-6 });
      expectAllClose(ours.dataSync(), own.dataSync(), { rtol: 1e-6, atol: 1e-6 });
      tf.dispose([own, ours]);
      expect(tf.memory().numTensors).toBe(before.numTensors);
      expect(tf.memory().numBytes).toBe(before.numBytes);
      x.dispose();
    });
  }

  it('pow with a tensor exponent or a higher-rank scalar still broadcasts as tf.pow does', () => {
    const x = tf.tensor1d([1.5, 2, 3]);
    const e = tf.tensor1d([2, 3, 0.5]);
    const [own, ours] = both(() => tf.pow(x, e));
    expectAllClose(ours.dataSync(), own.dataSync());
    const [own2, ours2] = both(() => tf.pow(x, tf.reshape(tf.scalar(3), [1, 1])));
    expect(ours2.shape).toEqual([1, 3]);
    expectAllClose(ours2.dataSync(), [3.375, 8, 27]);
    tf.dispose([x, e, own, ours, own2, ours2]);
  });

  it('gradient of x³ (GELU) equals 3x²', () => {
    const x = tf.tensor1d([-2, -0.5, 0.25, 1.5]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.pow(t, 3)))(x);
    expectAllClose(g.dataSync(), [12, 0.75, 0.1875, 6.75]);
    tf.dispose([x, g]);
  });

  const SUMS: Array<[number[], number | number[], boolean]> = [
    [[7, 5], 0, false],
    [[7, 5], 0, true],
    [[7, 5], 1, false],
    [[7, 5], [0, 1], false],
    [[3, 4, 6], [0, 1], false],
    [[3, 4, 6], [1, 0], true],
    [[3, 4, 6], 0, false],
    [[3, 4, 6], [0, 2], false],
    [[3, 4, 6], -1, true],
    [[1, 9], 0, false],
    [[300, 17], 0, false],
  ];
  for (const [shape, axis, keepDims] of SUMS) {
    it(`sum over ${JSON.stringify(axis)} of [${shape}] (keepDims ${keepDims}) equals tfjs' kernel`, () => {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 11);
      const before = tf.memory();
      const [own, ours] = both(() => tf.sum(x, axis, keepDims));
      expect(ours.shape).toEqual(own.shape);
      expectAllClose(ours.dataSync(), own.dataSync(), { rtol: 1e-5, atol: 1e-5 });
      tf.dispose([own, ours]);
      expect(tf.memory().numTensors).toBe(before.numTensors);
      expect(tf.memory().numBytes).toBe(before.numBytes);
      x.dispose();
    });
  }

  it('sum of int32 keeps its dtype; an empty reduction gives zeros', () => {
    const i = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
    const s = tf.sum(i, 0);
    expect(s.dtype).toBe('int32');
    expect(Array.from(s.dataSync())).toEqual([4, 6]);
    const e = tf.sum(tf.zeros([0, 3]), 0);
    expect(Array.from(e.dataSync())).toEqual([0, 0, 0]);
    tf.dispose([i, s, e]);
  });

  it('a leading-axis sum matches a float64 reference', () => {
    const x = tf.randomNormal([513, 33], 0, 1, 'float32', 12);
    const v = x.dataSync();
    const ref = new Float64Array(33);
    for (let r = 0; r < 513; r++) for (let c = 0; c < 33; c++) ref[c] = (ref[c] ?? 0) + (v[r * 33 + c] ?? 0);
    const s = tf.sum(x, 0);
    expectAllClose(s.dataSync(), ref, { rtol: 1e-5, atol: 1e-4 });
    tf.dispose([x, s]);
  });
});
