import { Rng } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { clipCovSelection, createClipCov } from './clip-cov';
import { tokenCovariances } from './covariance';
import { createKlCov, klCovSelection } from './kl-cov';
import { disposeContext, handContext } from '@rftkit/test-kit';

// Five response tokens and one pad. mean A = 0.4, mean logp = −1.26, so
// cov = [1.856, −2.784, −1.484, 1.036, −0.104]: tokens 0 and 3 lie in (1, 5).
const A = [2, 2, -1, -1, 0, 0];
const LOGP = [-0.1, -3, -0.2, -2, -1, 0];
const MASK = [1, 1, 1, 1, 1, 0];
const base = { advantages: A, logp: LOGP, oldLogp: LOGP, mask: MASK };
const bounds = { lowerBound: 1, upperBound: 5, clipLow: 0.2, clipHigh: 0.2 };

describe('covariance selection', () => {
  it('computes the centred covariance by hand', () => {
    const cov = tokenCovariances(A, LOGP, MASK);
    expectAllClose(Array.from(cov).slice(0, 5), [1.856, -2.784, -1.484, 1.036, -0.104], { atol: 1e-9 });
    expect(cov[5]).toBe(Number.NEGATIVE_INFINITY);
  });

  it('clip-cov picks exactly the in-range tokens when the budget allows', () => {
    // ⌊0.5·5⌋ = 2 ≥ 2 candidates → both
    expect(clipCovSelection(base, { clipRatio: 0.5, ...bounds }, new Rng(1))).toEqual([0, 3]);
    // a narrower range keeps only token 0
    expect(clipCovSelection(base, { clipRatio: 0.5, ...bounds, lowerBound: 1.5 }, new Rng(1))).toEqual([0]);
  });

  it('clip-cov draws max(⌊ratio·N⌋, 1) of the candidates uniformly at random, seeded', () => {
    const counts = [0, 0, 0, 0];
    for (let s = 0; s < 400; s++) {
      const picked = clipCovSelection(base, { clipRatio: 1e-4, ...bounds }, new Rng(s));
      expect(picked.length).toBe(1);
      counts[picked[0]!]!++;
      expect(clipCovSelection(base, { clipRatio: 1e-4, ...bounds }, new Rng(s))).toEqual(picked);
    }
    expect(counts[1]! + counts[2]!).toBe(0);
    expect(counts[0]).toBeGreaterThan(150);
    expect(counts[3]).toBeGreaterThan(150);
  });

  it('clip-cov skips tokens already clipped by PPO', () => {
    // token 0: A > 0 and ratio e^0.3 > 1.2 → clipped → not a candidate
    const oldLogp = [-0.4, ...LOGP.slice(1)];
    expect(clipCovSelection({ ...base, oldLogp }, { clipRatio: 0.5, ...bounds }, new Rng(1))).toEqual([3]);
  });

  it('kl-cov takes the top max(⌊k·N⌋, 1) tokens by covariance', () => {
    expect(klCovSelection(base, 0.4)).toEqual([0, 3]);
    expect(klCovSelection(base, 0.2)).toEqual([0]);
    expect(klCovSelection(base, 1e-6)).toEqual([0]);
    expect(klCovSelection({ ...base, mask: [0, 0, 0, 0, 0, 0] }, 0.5)).toEqual([]);
  });
});

describeBackends('clip-cov / kl-cov hooks', () => {
  it('clip-cov removes the gradient of exactly the selected tokens and keeps the loss value', async () => {
    const ctx = handContext({ logp: [LOGP], advantages: [A], mask: [MASK] });
    const reg = createClipCov({ clipRatio: 0.5 });
    const lossOf = (logp: tf.Tensor) => tf.mul(tf.neg(ctx.advantages), logp) as tf.Tensor2D;
    await expectNoLeaks(
      () =>
        tf.tidy(() => {
          const base = lossOf(ctx.logp);
          return reg.tokenLoss!(base, { ...ctx });
        }),
      { dispose: (t) => t.dispose() },
    );
    const g = tf.grad((logp: tf.Tensor) => tf.sum(reg.tokenLoss!(lossOf(logp), { ...ctx, logp: logp as tf.Tensor2D })))(ctx.logp);
    // −A everywhere except tokens 0 and 3
    expectAllClose(g.dataSync(), [0, -2, 1, 0, 0, 0]);
    const value = tf.tidy(() => reg.tokenLoss!(lossOf(ctx.logp), { ...ctx }).dataSync());
    expectAllClose(value, A.map((a, i) => -a * LOGP[i]!));
    expect(reg.metrics!()['clip_cov/tokens_detached']).toBeGreaterThan(0);
    g.dispose();
    disposeContext(ctx);
  });

  it('kl-cov adds coef·|logp − oldLogp| on the selected tokens only', async () => {
    const oldLogp = LOGP.map((x) => x - 0.5);
    const ctx = handContext({ logp: [LOGP], oldLogp: [oldLogp], advantages: [A], mask: [MASK] });
    const reg = createKlCov({ kRatio: 0.4, coef: 2 });
    const zero = tf.zeros([1, 6]) as tf.Tensor2D;
    await expectNoLeaks(() => reg.tokenLoss!(zero, { ...ctx }), { dispose: (t) => t.dispose() });
    const again = reg.tokenLoss!(zero, { ...ctx });
    expectAllClose(again.dataSync(), [1, 0, 0, 1, 0, 0]);
    expect(reg.metrics!()['kl_cov/tokens_selected']).toBe(4); // two calls in step 1, counted over the step
    tf.dispose([zero, again]);
    disposeContext(ctx);
  });
});
