import * as tf from '@tensorflow/tfjs-core';
import { type AdvantageEstimator, ComponentError, type Regularizer, ShapeError } from '@rftkit/core';
import { describeBackends } from '@rftkit/tensor/testing';
import { expect, it } from 'vitest';
import { groupAdvantage } from '@rftkit/test-kit';
import { testParts } from '../testing/parts';
import { runStepStages } from './step';

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the step to fail');
}

const advantage = (id: string, change: (a: Float32Array) => Float32Array): AdvantageEstimator => ({
  id,
  compute: (input) => {
    const out = groupAdvantage.compute(input);
    return { ...out, advantages: change(out.advantages) };
  },
});

describeBackends('component checks', () => {
  it('an advantage estimator returning the wrong length is a ShapeError naming it and the expected length', async () => {
    const parts = testParts({}, { advantage: advantage('short', (a) => a.subarray(0, a.length - 1)) });
    const e = await failure(runStepStages(parts, 1));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/advantage 'short' at step 1: advantages has length \d+, expected rows × seqLen = 12 × \d+/);
  });

  it('NaN or Infinity in advantages names the estimator, the row and the token', async () => {
    const parts = testParts({}, { advantage: advantage('nan', (a) => a.map((x, i) => (i === 3 ? Number.NaN : x))) });
    const e = await failure(runStepStages(parts, 2));
    expect(e).toBeInstanceOf(ComponentError);
    expect(e.message).toMatch(/advantage 'nan' at step 2: advantages\[3\] \(row 0, token 3\) is NaN/);
    const inf = testParts({}, { advantage: advantage('inf', (a) => a.map((x, i) => (i === 0 ? Number.POSITIVE_INFINITY : x))) });
    expect((await failure(runStepStages(inf, 1))).message).toMatch(/advantage 'inf' .* is Infinity/);
  });

  it('an exception in a component names it and the step and keeps the cause', async () => {
    const boom = new TypeError('boom');
    const parts = testParts({}, {
      advantage: {
        id: 'throws',
        compute: () => {
          throw boom;
        },
      },
    });
    const e = await failure(runStepStages(parts, 4));
    expect(e).toBeInstanceOf(ComponentError);
    expect(e.message).toBe("advantage 'throws' at step 4: threw: boom");
    expect(e.cause).toBe(boom);
    const hook: Regularizer = {
      id: 'bad-hook',
      afterUpdate: () => {
        throw new Error('no entropy');
      },
    };
    expect((await failure(runStepStages(testParts({}, { regularizers: [hook] }), 1))).message).toBe(
      "regularizer 'bad-hook' at step 1: threw: no entropy",
    );
  });

  it('a regularizer batch with arrays of the wrong length is a ShapeError naming it and the hook', async () => {
    const reg: Regularizer = { id: 'drops-a-score', augmentBatch: async (b) => ({ ...b, scores: b.scores.subarray(1) }) };
    const e = await failure(runStepStages(testParts({}, { regularizers: [reg] }), 1));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/regularizer 'drops-a-score' \(augmentBatch\) at step 1: scores has length 11, expected rows = 12/);
  });

  it('a regularizer tensor of the wrong shape is a ShapeError naming it and the expected shape, leaking nothing', async () => {
    const reg: Regularizer = { id: 'row-loss', tokenLoss: (t) => tf.sum(t, 1, true) as tf.Tensor2D };
    const parts = testParts({}, { regularizers: [reg] });
    await failure(runStepStages(parts, 1)); // warm-up
    const before = tf.memory().numTensors;
    const e = await failure(runStepStages(parts, 1));
    expect(tf.memory().numTensors).toBe(before);
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/regularizer 'row-loss' at step 1: tokenLoss has shape \[4,1\], expected \[4,\d+\]/);
    const term: Regularizer = { id: 'vector-term', lossTerms: () => ({ loss: tf.zeros([2]) as unknown as tf.Scalar }) };
    expect((await failure(runStepStages(testParts({}, { regularizers: [term] }), 1))).message).toMatch(
      /regularizer 'vector-term' at step 1: lossTerms\(\)\.loss has shape \[2\], expected \[\]/,
    );
  });

  it('a NaN loss stops before the weights move, naming the loss components', async () => {
    const reg: Regularizer = { id: 'nan-term', lossTerms: () => ({ loss: tf.scalar(Number.NaN) }) };
    const parts = testParts({}, { regularizers: [reg] });
    const before = Array.from(parts.policy.getWeights().w!.values);
    const e = await failure(runStepStages(parts, 1));
    expect(e).toBeInstanceOf(ComponentError);
    expect(e.message).toMatch(
      /the loss of policy loss 'test-ppo', aggregation 'test-token-mean', regularizer 'nan-term' at step 1: the loss is NaN \(epoch 0, mini-batch 0\)/,
    );
    expect(Array.from(parts.policy.getWeights().w!.values)).toEqual(before);
  });

  it('non-finite reward scores name the reward', async () => {
    const parts = testParts();
    const { scorer } = parts;
    parts.scorer = {
      ...scorer,
      score: async (b) => {
        const s = await scorer.score(b);
        s.scores[5] = Number.NaN;
        return s;
      },
    };
    expect((await failure(runStepStages(parts, 1))).message).toMatch(/reward 'test-char' at step 1: scores\[5\] is NaN/);
  });
});
