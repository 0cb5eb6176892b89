import { isRftError } from '@rftkit/core';
import { describeBackends, expectNoLeaks } from '@rftkit/tensor/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { createKlPenalty } from './kl-penalty';
import { disposeContext, handContext } from '@rftkit/test-kit';

describeBackends('kl-penalty', () => {
  it('k3: coef · token-mean of e^{ref−logp} − (ref−logp) − 1', async () => {
    const ctx = handContext({ logp: [[-1, -2, 0]], refLogp: [[-1.5, -2, 7]], advantages: [[0, 0, 0]], mask: [[1, 1, 0]] });
    const reg = createKlPenalty({ coef: 0.1 });
    expect(reg.needsReference).toBe(true);
    const dispose = (t: { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> }) => tf.dispose([t.loss, ...Object.values(t.metrics ?? {})]);
    await expectNoLeaks(() => reg.lossTerms!(ctx), { dispose });
    const t = reg.lossTerms!(ctx);
    const k3 = Math.exp(-0.5) + 0.5 - 1; // token 0; token 1 is 0; token 2 is padding
    expect(t.loss.dataSync()[0]).toBeCloseTo((0.1 * k3) / 2, 6);
    expect(t.metrics!['kl_penalty/kl']!.dataSync()[0]).toBeCloseTo(k3 / 2, 6);
    dispose(t);
    disposeContext(ctx);
  });

  it('without reference log-probs it is a clear error', () => {
    const ctx = handContext({ logp: [[-1]], advantages: [[0]], mask: [[1]] });
    try {
      createKlPenalty().lossTerms!(ctx);
      expect.unreachable();
    } catch (e) {
      expect(isRftError(e)).toBe(true);
      expect((e as Error).message).toMatch(/reference/);
    }
    disposeContext(ctx);
  });
});
