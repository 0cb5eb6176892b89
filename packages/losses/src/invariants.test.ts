import { OptionsError, ShapeError } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import {
  aggregationModes,
  createAggregator,
  createGspoLoss,
  createKlEstimator,
  createPpoClipLoss,
  createReinforceLoss,
  klTokenRewards,
} from './index';

describeBackends('aggregation invariants', () => {
  it('token-mean equals a hand-computed sum', async () => {
    const L = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const m = tf.tensor2d([
      [1, 1, 0],
      [0, 1, 1],
    ]);
    // (1 + 2 + 5 + 6) / 4 tokens
    const value = await expectNoLeaks(() => {
      const v = createAggregator({ mode: 'token-mean' }).aggregate(L, m, { totalTokens: 4, totalSequences: 2, maxResponseLength: 3 });
      const x = v.dataSync()[0]!;
      v.dispose();
      return x;
    });
    expect(value).toBeCloseTo(14 / 4, 6);
    // seq-mean-token-mean: ((1+2)/2 + (5+6)/2) / 2; seq-mean-token-sum-norm: 14 / (2·3)
    const ctx = { totalTokens: 4, totalSequences: 2, maxResponseLength: 3 };
    const smtm = createAggregator({ mode: 'seq-mean-token-mean' }).aggregate(L, m, ctx);
    const norm = createAggregator({ mode: 'seq-mean-token-sum-norm' }).aggregate(L, m, ctx);
    expect(smtm.dataSync()[0]).toBeCloseTo((1.5 + 5.5) / 2, 6);
    expect(norm.dataSync()[0]).toBeCloseTo(14 / 6, 6);
    tf.dispose([L, m, smtm, norm]);
  });

  for (const mode of aggregationModes) {
    it(`${mode}: summing micro-batch aggregates equals the whole-batch aggregate (value and gradient)`, async () => {
      const rows = 7;
      const T = 5;
      const lossValues = Array.from({ length: rows * T }, (_, i) => Math.sin(i * 1.7) * 2);
      const maskValues = Array.from({ length: rows * T }, (_, i) => {
        const r = Math.floor(i / T);
        const t = i % T;
        return r === 3 ? 0 : t >= r % 3 && t < 1 + (r % 3) + ((r * 2) % 4) ? 1 : 0;
      });
      const ctx = {
        totalTokens: maskValues.reduce((a: number, b) => a + b, 0),
        // Sequences are the rows with response tokens (row 3 is empty).
        totalSequences: rows - 1,
        maxResponseLength: 8,
      };
      const agg = createAggregator({ mode });
      const whole = tf.tensor2d(lossValues, [rows, T]);
      const mask = tf.tensor2d(maskValues, [rows, T]);
      await expectNoLeaks(() => {
        const full = tf.valueAndGrad((l: tf.Tensor) => agg.aggregate(l as tf.Tensor2D, mask, ctx))(whole);
        let sum = 0;
        const grads: number[] = [];
        for (const [start, end] of [
          [0, 3],
          [3, 4],
          [4, 7],
        ] as const) {
          const l = tf.slice(whole, [start, 0], [end - start, T]);
          const m = tf.slice(mask, [start, 0], [end - start, T]);
          const part = tf.valueAndGrad((x: tf.Tensor) => agg.aggregate(x as tf.Tensor2D, m, ctx))(l);
          sum += part.value.dataSync()[0]!;
          grads.push(...part.grad.dataSync());
          tf.dispose([l, m, part.value, part.grad]);
        }
        expectAllClose([sum], full.value.dataSync(), { atol: 1e-5, rtol: 1e-5, label: `${mode} value` });
        expectAllClose(grads, full.grad.dataSync(), { atol: 1e-6, rtol: 1e-5, label: `${mode} grad` });
        tf.dispose([full.value, full.grad]);
      });
      tf.dispose([whole, mask]);
    });
  }

  for (const mode of ['seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'] as const) {
    it(`${mode}: rows without response tokens do not dilute the loss`, async () => {
      const agg = createAggregator({ mode });
      const L = tf.tensor2d([1, 2, 3, 4, 9, 9], [3, 2]);
      const m = tf.tensor2d([1, 1, 1, 0, 0, 0], [3, 2]);
      const L2 = tf.slice(L, [0, 0], [2, 2]);
      const m2 = tf.slice(m, [0, 0], [2, 2]);
      await expectNoLeaks(() => {
        // Two sequences with tokens; the third row is empty and not counted.
        const ctx = { totalTokens: 3, totalSequences: 2, maxResponseLength: 2 };
        const withEmpty = agg.aggregate(L as tf.Tensor2D, m as tf.Tensor2D, ctx);
        const without = agg.aggregate(L2 as tf.Tensor2D, m2 as tf.Tensor2D, ctx);
        const expected = { 'seq-mean-token-mean': (1.5 + 3) / 2, 'seq-mean-token-sum': 6 / 2, 'seq-mean-token-sum-norm': 6 / 4 }[mode];
        expect(withEmpty.dataSync()[0]).toBeCloseTo(expected, 6);
        expect(without.dataSync()[0]).toBeCloseTo(expected, 6);
        tf.dispose([withEmpty, without]);
      });
      tf.dispose([L, m, L2, m2]);
    });
  }

  it('rejects mismatched shapes and bad context', () => {
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([2, 4]) as tf.Tensor2D;
    const agg = createAggregator();
    expect(() => agg.aggregate(a, b, { totalTokens: 1, totalSequences: 1, maxResponseLength: 1 })).toThrow(ShapeError);
    expect(() => agg.aggregate(a, a, { totalTokens: -1, totalSequences: 1, maxResponseLength: 1 })).toThrow(/totalTokens/);
    expect(() => createAggregator({ mode: 'sum' as 'token-mean' })).toThrow(OptionsError);
    tf.dispose([a, b]);
  });
});

describeBackends('policy loss invariants', () => {
  it('GSPO token form gives the sequence objective gradient under seq-mean-token-mean', async () => {
    const logpV = [-1.2, -0.4, -2.0, -0.7, -0.3, -1.1, -0.9, -0.5];
    const oldV = [-1.0, -0.5, -1.9, -0.9, -0.2, -1.3, -0.8, -0.6];
    const maskV = [1, 1, 1, 0, 1, 1, 0, 0];
    const advV = [0.7, 0.7, 0.7, 0.7, -1.1, -1.1, -1.1, -1.1];
    const [logp, old, mask, adv] = [logpV, oldV, maskV, advV].map((x) => tf.tensor2d(x, [2, 4])) as tf.Tensor2D[];
    const ctx = { totalTokens: 5, totalSequences: 2, maxResponseLength: 4 };
    // no clipping active: wide clip range
    const loss = createGspoLoss({ clipLow: 0.9, clipHigh: 9 });
    const agg = createAggregator({ mode: 'seq-mean-token-mean' });
    await expectNoLeaks(() => {
      const viaLoss = tf.grad((lp: tf.Tensor) => {
        const o = loss.compute({ logp: lp as tf.Tensor2D, oldLogp: old!, advantages: adv!, mask: mask! });
        tf.dispose(Object.values(o.metrics));
        return agg.aggregate(o.tokenLoss, mask!, ctx);
      })(logp!);
      // direct sequence objective: mean_i −A_i · exp(mean_t (logp − old))
      const direct = tf.grad((lp: tf.Tensor) => {
        const seq = tf.div(tf.sum(tf.mul(tf.sub(lp, old!), mask!), -1), tf.sum(mask!, -1));
        const a = tf.tensor1d([0.7, -1.1]);
        return tf.mean(tf.mul(tf.neg(a), tf.exp(seq)));
      })(logp!);
      expectAllClose(viaLoss.dataSync(), direct.dataSync(), { atol: 1e-6, rtol: 1e-5 });
      tf.dispose([viaLoss, direct]);
    });
    tf.dispose([logp!, old!, mask!, adv!]);
  });

  it('PPO-clip with ratio 1 has the REINFORCE gradient −A·m', async () => {
    const logp = tf.tensor2d([[-1, -2, -0.5]]);
    const old = tf.tensor2d([[-1, -2, -0.5]]);
    const adv = tf.tensor2d([[0.5, -2, 1]]);
    const mask = tf.tensor2d([[1, 1, 0]]);
    const ppo = createPpoClipLoss();
    const rf = createReinforceLoss();
    const grad = (l: typeof ppo) =>
      tf.grad((lp: tf.Tensor) => {
        const o = l.compute({ logp: lp as tf.Tensor2D, oldLogp: old, advantages: adv, mask });
        tf.dispose(Object.values(o.metrics));
        return tf.sum(o.tokenLoss);
      })(logp);
    const a = grad(ppo);
    const b = grad(rf);
    expectAllClose(a.dataSync(), [-0.5, 2, 0]);
    expectAllClose(b.dataSync(), [-0.5, 2, 0]);
    tf.dispose([logp, old, adv, mask, a, b]);
  });

  it('rejects bad options and mismatched shapes with rftkit errors', () => {
    expect(() => createPpoClipLoss({ dualClip: 0.5 })).toThrow(/dualClip/);
    expect(() => createPpoClipLoss({ clipLow: 1.5 })).toThrow(OptionsError);
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([3, 2]) as tf.Tensor2D;
    expect(() => createPpoClipLoss().compute({ logp: a, oldLogp: a, advantages: b, mask: a })).toThrow(/advantages/);
    tf.dispose([a, b]);
  });
});

describeBackends('KL estimator invariants', () => {
  it("k3+ has k3's value and k2's gradient", async () => {
    const logp = tf.tensor2d([[-0.3, -2.5, -1.0, -0.01]]);
    const ref = tf.tensor2d([[-0.9, -0.5, -1.4, -0.02]]);
    const kp = createKlEstimator({ estimator: 'k3+' });
    const k3 = createKlEstimator({ estimator: 'k3' });
    const k2 = createKlEstimator({ estimator: 'k2' });
    await expectNoLeaks(() => {
      const v = kp.compute(logp, ref);
      const v3 = k3.compute(logp, ref);
      const g = tf.grad((lp: tf.Tensor) => tf.sum(kp.compute(lp as tf.Tensor2D, ref)))(logp);
      const g2 = tf.grad((lp: tf.Tensor) => tf.sum(k2.compute(lp as tf.Tensor2D, ref)))(logp);
      expectAllClose(v.dataSync(), v3.dataSync());
      expectAllClose(g.dataSync(), g2.dataSync());
      // and k2's gradient is the log-ratio
      expectAllClose(g.dataSync(), [0.6, -2, 0.4, 0.01], { atol: 1e-6 });
      tf.dispose([v, v3, g, g2]);
    });
    tf.dispose([logp, ref]);
  });

  it('klTokenRewards: −coef·KL on response tokens only, and validates its input', () => {
    const r = klTokenRewards([-1, -2, -3], [-1.5, -2, -1], [1, 0, 1], { coef: 0.1 });
    expectAllClose(r, [-0.05, 0, 0.2], { atol: 1e-7 });
    expect(() => klTokenRewards([-1], [-1, -2], [1], { coef: 0.1 })).toThrow(ShapeError);
    expect(() => klTokenRewards([-1], [-1], [1], { coef: -1 })).toThrow(/coef/);
  });
});
