// Core's masked math on every backend: tensor's kernel overrides (Sum, Pow) run beneath it.
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends, expectAllClose, expectNoLeaks } from './testing/index';
import { expect, it } from 'vitest';
import {
  entropyFromLogits,
  gatherLogProbs,
  logSoftmax,
  maskedMean,
  maskedSum,
  maskedVariance,
  maskedWhiten,
} from '@rftkit/core';

// Hand-computed values: x = [[1,2,3],[4,5,6]], mask = [[1,1,0],[1,0,0]]
// masked values {1,2,4}: sum 7, mean 7/3, biased var = ((1-7/3)^2+(2-7/3)^2+(4-7/3)^2)/3 = 14/9,
// unbiased = 14/9 * 3/2 = 7/3.
const x = () => tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
const m = () => tf.tensor2d([[1, 1, 0], [1, 0, 0]]);

async function values(fn: () => tf.Tensor): Promise<Float32Array> {
  let out: Float32Array = new Float32Array();
  await expectNoLeaks(() => {
    const t = tf.tidy(fn);
    out = t.dataSync() as Float32Array;
    t.dispose();
  });
  return out;
}

describeBackends('masked math', () => {
  it('masked sum and mean over everything and per row', async () => {
    expectAllClose(await values(() => maskedSum(x(), m())), [7]);
    expectAllClose(await values(() => maskedMean(x(), m())), [7 / 3]);
    expectAllClose(await values(() => maskedMean(x(), m(), 1)), [1.5, 4]);
    expectAllClose(await values(() => maskedSum(x(), m(), 1)), [3, 4]);
  });

  it('a fully masked row has mean 0, not NaN', async () => {
    const out = await values(() => maskedMean(x(), tf.tensor2d([[0, 0, 0], [1, 1, 1]]), 1));
    expectAllClose(out, [0, 5]);
  });

  it('masked variance, biased and unbiased', async () => {
    expectAllClose(await values(() => maskedVariance(x(), m(), false)), [14 / 9], { rtol: 1e-5 });
    expectAllClose(await values(() => maskedVariance(x(), m(), true)), [7 / 3], { rtol: 1e-5 });
  });

  it('masked whiten gives zero mean, unit unbiased variance on the mask, 0 on padding', async () => {
    const out = await values(() => maskedWhiten(x(), m()));
    const s = Math.sqrt(7 / 3 + 1e-8);
    expectAllClose(out, [(1 - 7 / 3) / s, (2 - 7 / 3) / s, 0, (4 - 7 / 3) / s, 0, 0], { atol: 1e-5 });
    const kept = await values(() => maskedWhiten(x(), m(), { shiftMean: false }));
    expectAllClose(kept, [(1 - 7 / 3) / s + 7 / 3, (2 - 7 / 3) / s + 7 / 3, 0, (4 - 7 / 3) / s + 7 / 3, 0, 0], {
      atol: 1e-5,
    });
  });

  // logits [0, ln 2, ln 3] → softmax [1/6, 2/6, 3/6]
  const logits = () => tf.tensor2d([[0, Math.log(2), Math.log(3)]]);

  it('log-softmax at T=1 and T=2', async () => {
    expectAllClose(await values(() => logSoftmax(logits())), [Math.log(1 / 6), Math.log(2 / 6), Math.log(3 / 6)]);
    // T=2: logits/2 → weights [1, √2, √3]
    const z = 1 + Math.SQRT2 + Math.sqrt(3);
    expectAllClose(await values(() => logSoftmax(logits(), 2)), [
      Math.log(1 / z),
      Math.log(Math.SQRT2 / z),
      Math.log(Math.sqrt(3) / z),
    ]);
  });

  it('entropy from logits equals −Σ p log p, and log V for uniform', async () => {
    const p = [1 / 6, 2 / 6, 3 / 6];
    const h = -p.reduce((a, q) => a + q * Math.log(q), 0);
    expectAllClose(await values(() => entropyFromLogits(logits())), [h]);
    expectAllClose(await values(() => entropyFromLogits(tf.zeros([2, 5]))), [Math.log(5), Math.log(5)]);
  });

  it('gathers log-probs of the given ids', async () => {
    const out = await values(() => gatherLogProbs(tf.tensor3d([[[0, Math.log(2), Math.log(3)], [0, 0, 0]]]), tf.tensor2d([[2, 0]], undefined, 'int32')));
    expectAllClose(out, [Math.log(0.5), Math.log(1 / 3)]);
  });

  it('gather log-probs has a gradient (softmax − onehot on the chosen id)', async () => {
    const grad = await values(() =>
      tf.grad((l: tf.Tensor) => tf.sum(gatherLogProbs(l, tf.tensor1d([1], 'int32'))))(
        tf.tensor2d([[0, Math.log(2), Math.log(3)]]),
      ),
    );
    expectAllClose(grad, [-1 / 6, 1 - 2 / 6, -3 / 6]);
  });

  it('rejects a non-positive temperature', () => {
    expect(() => logSoftmax(logits(), 0)).toThrow(/temperature must be > 0/);
  });
});

describeBackends('non-differentiable ops on the gradient path', () => {
  it('a comparison between a variable-dependent tensor and the loss gives zero gradient, not an error', async () => {
    const grad = await values(() =>
      tf.grad((x: tf.Tensor) => {
        // where(x < 1, 2x, 3x): the condition depends on x; d/dx is 2 or 3 by branch.
        const cond = tf.less(x, 1);
        return tf.sum(tf.where(cond, tf.mul(x, 2), tf.mul(x, 3)));
      })(tf.tensor1d([0.5, 2])),
    );
    expectAllClose(grad, [2, 3]);
  });
});
