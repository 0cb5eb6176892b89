import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from './testing/backends';

describeBackends('tensors saved for gradients', () => {
  it('share their buffers (no Identity launches), give the same gradients, and leak nothing', async () => {
    const x = tf.tensor1d([1, -2, 0.5, 3]);
    const before = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    // d/dx Σ x·x·sin(x) = 2x·sin x + x²·cos x
    const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.mul(t, t), tf.sin(t)));
    const info = await tf.profile(() => {
      const g = tf.grad(f)(x);
      const values = Array.from(g.dataSync());
      const want = [1, -2, 0.5, 3].map((v) => 2 * v * Math.sin(v) + v * v * Math.cos(v));
      values.forEach((v, i) => {
        expect(v).toBeCloseTo(want[i]!, 5);
      });
      g.dispose();
    });
    expect(info.kernels.filter((k) => k.name === 'Identity')).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    x.dispose();
  });
});
