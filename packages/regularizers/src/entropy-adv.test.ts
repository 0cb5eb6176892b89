import { Rng } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { createEntropyAdv } from './entropy-adv';
import { disposeContext, handContext } from '@rftkit/test-kit';

describeBackends('entropy-adv', () => {
  it('matches a hand computation: A + min(α·H, |A|/κ) on response tokens', async () => {
    const ctx = handContext({
      logp: [[0, 0, 0, 0, 0]],
      advantages: [[0.5, -0.3, 0, 2, 0]],
      entropy: [[1, 2, 3, 0.1, 5]],
      mask: [[1, 1, 1, 1, 0]],
    });
    const reg = createEntropyAdv(); // α 0.4, κ 2
    await expectNoLeaks(() => reg.tokenAdvantages!(ctx), { dispose: (t) => t.dispose() });
    const again = reg.tokenAdvantages!(ctx);
    // 0.5 + min(0.4, 0.25); −0.3 + min(0.8, 0.15); 0 + 0; 2 + min(0.04, 1); padding stays 0
    expectAllClose(again.dataSync(), [0.75, -0.15, 0, 2.04, 0], { atol: 1e-6 });
    again.dispose();
    disposeContext(ctx);
  });

  it('never flips the sign of an advantage and never shrinks it', () => {
    const rng = new Rng(11);
    const adv = [Array.from({ length: 64 }, () => 3 * rng.normal())];
    const ent = [Array.from({ length: 64 }, () => 4 * rng.float())];
    const ctx = handContext({ logp: [adv[0]!.map(() => 0)], advantages: adv, entropy: ent, mask: [adv[0]!.map(() => 1)] });
    const out = createEntropyAdv({ alpha: 2, kappa: 1.01 }).tokenAdvantages!(ctx);
    const values = out.dataSync();
    for (let i = 0; i < 64; i++) {
      const a = adv[0]![i]!;
      expect(Math.sign(values[i]!)).toBe(Math.sign(a));
      expect(values[i]!).toBeGreaterThanOrEqual(a - 1e-6);
    }
    out.dispose();
    disposeContext(ctx);
  });

  it('passes no gradient through the entropy', () => {
    const ctx = handContext({ logp: [[0, 0]], advantages: [[1, -1]], mask: [[1, 1]] });
    const g = tf.grad((h: tf.Tensor) => tf.sum(createEntropyAdv().tokenAdvantages!({ ...ctx, entropy: h as tf.Tensor2D })))(
      tf.tensor2d([[0.5, 0.5]]),
    );
    expectAllClose(g.dataSync(), [0, 0]);
    g.dispose();
    disposeContext(ctx);
  });

  it('rejects κ ≤ 1', () => {
    expect(() => createEntropyAdv({ kappa: 1 })).toThrow(/kappa/);
  });
});
