import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backend';
import { originalKernel } from './override';

describe('wasm Identity and Cast overrides', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('are installed', () => {
    expect(originalKernel('Identity', 'wasm')).toBeDefined();
    expect(originalKernel('Cast', 'wasm')).toBeDefined();
  });

  it('clone shares the buffer: no new backend data, values intact after the source is disposed', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const buffers = tf.engine().backend.numDataIds();
    const y = tf.clone(x);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(y.shape).toEqual([2, 3]);
    y.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(buffers - 1);
  });

  it('same-dtype Cast shares the buffer; other casts convert as before', () => {
    const x = tf.tensor1d([1.5, -2.5, 3]);
    const buffers = tf.engine().backend.numDataIds();
    const same = tf.cast(x, 'float32');
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    const ints = tf.cast(x, 'int32');
    expect(ints.dtype).toBe('int32');
    expect(Array.from(ints.dataSync())).toEqual([1, -2, 3]);
    tf.dispose([x, ints]);
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.5, 3]);
    same.dispose();
  });

  it('gradients through saved (aliased) tensors are unchanged: d/dx Σ x³ = 3x²', () => {
    const x = tf.tensor1d([1, -2, 0.5]);
    const before = tf.memory().numTensors;
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mul(t, t), t)))(x);
    expect(Array.from(g.dataSync())).toEqual([3, 12, 0.75]);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
