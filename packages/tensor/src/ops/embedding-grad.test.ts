import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../testing/backends';
import { expectAllClose } from '../testing/close';
import { seededTensor } from '../testing/random';
import { embeddingGrad, embeddingGradComposite } from './embedding-grad';

describeBackends('embeddingGrad', () => {
  it('equals the one-hot product oneHot(ids)ᵀ·dy, repeated ids summed, unused rows zero, without leaks', () => {
    const ids = tf.tensor1d([3, 0, 3, 10, 7, 3, 1], 'int32');
    const dy = seededTensor([7, 5], 4) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const got = embeddingGrad(dy, ids, 11);
    expect(got.shape).toEqual([11, 5]);
    const want = tf.tidy(() => tf.matMul(tf.cast(tf.oneHot(ids, 11), 'float32'), dy, true, false));
    expectAllClose(got.dataSync(), want.dataSync(), { rtol: 1e-6, atol: 1e-6 });
    // Row 3 is the sum of rows 0, 2 and 5 of dy; rows 2, 4, 5, 6, 8, 9 are never looked up.
    const g = got.arraySync() as number[][];
    for (const v of [2, 4, 5, 6, 8, 9]) expect(g[v]).toEqual([0, 0, 0, 0, 0]);
    tf.dispose([got, want]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, dy]);
  });

  it('ids outside [0, vocab) add nothing, fused and (where the backend has UnsortedSegmentSum) composite', () => {
    const ids = tf.tensor1d([1, -1, 4, 0], 'int32');
    const dy = tf.tensor2d([1, 2, 10, 20, 100, 200, 5, 6], [4, 2]);
    const before = tf.memory().numTensors;
    const composite = tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? [embeddingGradComposite] : [];
    for (const f of [embeddingGrad, ...composite]) {
      const got = f(dy, ids, 3);
      expect(Array.from(got.dataSync())).toEqual([5, 6, 1, 2, 0, 0]);
      got.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, dy]);
  });
});
