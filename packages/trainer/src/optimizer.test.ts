import * as tf from '@tensorflow/tfjs-core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { optimizerSchema } from './config';
import { AdamOptimizer, clipByGlobalNorm, learningRate } from './optimizer';

describe('learningRate', () => {
  const cfg = (o: object) => optimizerSchema.parse({ lr: 1, ...o });
  it('warms up linearly, then follows the schedule', () => {
    const c = cfg({ warmupSteps: 2, schedule: 'linear' });
    // warm-up: 1/2, 2/2; then N = 4 decay steps: 1, 3/4, 1/2, 1/4
    expect([1, 2, 3, 4, 5, 6].map((s) => learningRate(c, s, 6))).toEqual([0.5, 1, 1, 0.75, 0.5, 0.25]);
  });
  it('cosine: ½(1 + cos(π i / N))', () => {
    const c = cfg({ schedule: 'cosine' });
    const got = [1, 2, 3, 4].map((s) => learningRate(c, s, 4));
    expectAllClose(got, [1, 0.5 * (1 + Math.SQRT1_2), 0.5, 0.5 * (1 - Math.SQRT1_2)], { atol: 1e-12 });
  });
  it('constant stays at lr', () => {
    expect(learningRate(cfg({}), 50, 10)).toBe(1);
  });
});

describeBackends('AdamOptimizer', () => {
  it('AdamW matches a hand-computed two-step trajectory', async () => {
    const x = tf.variable(tf.tensor1d([1, -2]));
    const opt = new AdamOptimizer([x], optimizerSchema.parse({ name: 'adamw', lr: 0.1, weightDecay: 0.1 }));
    await expectNoLeaks(() => {
      const g1 = tf.tensor1d([0.5, -1]);
      opt.apply([g1], 0.1);
      g1.dispose();
    });
    // Step 1: m̂/√v̂ = sign(g): x·(1 − 0.01) − 0.1·sign(g)
    expectAllClose(x.dataSync(), [0.89, -1.88], { atol: 1e-6 });
    const g2 = tf.tensor1d([0.1, 0.3]);
    opt.apply([g2], 0.1);
    g2.dispose();
    // m = [0.055, −0.06], v = [2.5975e-4, 1.089e-3], bias corrections 0.19 and 1.999e-3
    expectAllClose(x.dataSync(), [0.8007959063646517, -1.8184151424192265], { atol: 1e-5 });
    expect(opt.t).toBe(2);
    opt.dispose();
    x.dispose();
  });

  it('Adam adds weight decay to the gradient (L2)', () => {
    const x = tf.variable(tf.tensor1d([1, -2]));
    const opt = new AdamOptimizer([x], optimizerSchema.parse({ name: 'adam', lr: 0.1, weightDecay: 0.1 }));
    const g = tf.tensor1d([0.5, -1]);
    opt.apply([g], 0.1);
    // g + 0.1·x = [0.6, −1.2]: one step moves by −lr·sign
    expectAllClose(x.dataSync(), [0.9, -1.9], { atol: 1e-6 });
    g.dispose();
    opt.dispose();
    x.dispose();
  });

  it('state round-trips: a restored optimizer continues identically', () => {
    const cfg = optimizerSchema.parse({ lr: 0.05 });
    const a = tf.variable(tf.tensor1d([0.3, 0.7, -1]));
    const b = tf.variable(tf.tensor1d([0.3, 0.7, -1]));
    const oa = new AdamOptimizer([a], cfg);
    const ob = new AdamOptimizer([b], cfg);
    const g1 = tf.tensor1d([1, -2, 0.5]);
    const g2 = tf.tensor1d([-0.3, 0.1, 2]);
    oa.apply([g1], 0.05);
    ob.apply([g1], 0.05);
    ob.loadState(oa.state());
    oa.apply([g2], 0.05);
    ob.apply([g2], 0.05);
    expectAllClose(b.dataSync(), a.dataSync(), { atol: 0 });
    expect(() => ob.loadState({ ...oa.state(), slots: [] })).toThrow(/1 trainable variables/);
    for (const t of [a, b, g1, g2]) t.dispose();
    oa.dispose();
    ob.dispose();
  });
});

describeBackends('clipByGlobalNorm', () => {
  it('scales by maxNorm / norm over all tensors', async () => {
    const g = [tf.tensor1d([3]), tf.tensor1d([0, 4])];
    const { grads, norm } = await expectNoLeaks(() => clipByGlobalNorm(g, 1), {
      dispose: (r) => {
        for (const t of r.grads) t.dispose();
      },
    });
    expect(norm).toBeCloseTo(5, 5);
    const clipped = clipByGlobalNorm(g, 1);
    expectAllClose(clipped.grads[0]!.dataSync(), [0.6], { atol: 1e-6 });
    expectAllClose(clipped.grads[1]!.dataSync(), [0, 0.8], { atol: 1e-6 });
    const off = clipByGlobalNorm(g, 10);
    expectAllClose(off.grads[1]!.dataSync(), [0, 4]);
    for (const t of [...g, ...clipped.grads, ...off.grads]) t.dispose();
    expect(grads.length).toBe(2);
  });
});
