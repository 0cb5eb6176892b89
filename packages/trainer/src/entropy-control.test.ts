// End to end: the trainer with a real transformer policy on a verifiable task, GRPO alone
// against GRPO + AEPO (binary rule, target above the policy's entropy). GRPO sharpens the
// policy toward the rewarded answers (entropy falls); AEPO's REINFORCE term on correct
// samples of π^{T_high} pulls it toward the flatter tempered policy (entropy rises).
import * as tf from '@tensorflow/tfjs-core';
import { createGrpoAdvantage } from '@rftkit/advantages';
import type { Metrics, Policy, PromptRecord, RewardFunction } from '@rftkit/core';
import { selectBackend } from '@rftkit/tensor';
import { createAggregator, createPpoClipLoss } from '@rftkit/losses';
import { createCharTokenizer, createTransformerPolicy, trainSft } from '@rftkit/policy';
import { createAepo } from '@rftkit/regularizers';
import { createRolloutEngine } from '@rftkit/rollout';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainer } from './trainer';

const tokenizer = createCharTokenizer({ alphabet: 'ab' });
const prompts: PromptRecord[] = ['a', 'b', 'ab', 'ba', 'aa', 'bb', 'aab', 'bba'].map((p, i) => ({ id: `p${i}`, prompt: p }));

/** Verifier: correct when the response contains an 'a' and ends with eos (many answers are correct). */
const containsA: RewardFunction = {
  id: 'contains-a',
  score: (inputs) => inputs.map(({ completion, finishReason }) => (finishReason === 'stop' && completion.includes('a') ? 1 : 0)),
};

const SEED = 1;
const TARGET = 5; // above any entropy this policy reaches: the controller must stay at T_high
const T_HIGH = 2; // far from 1 so the effect is large within a few steps
const STEPS = 10;

/** Mean exact entropy (T=1) over response tokens of a fixed probe rollout of the policy. */
async function probeEntropy(policy: Policy): Promise<number> {
  const batch = await createRolloutEngine({ policy }).generate({
    prompts,
    samplesPerPrompt: 8,
    sampling: { temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: 6, stopTokens: [] },
    seed: 12345,
    step: 0,
    stream: 'probe',
  });
  return tf.tidy(() => {
    const shape: [number, number] = [batch.rows, batch.seqLen];
    const stats = policy.tokenStats({ tokens: tf.tensor2d(batch.tokens, shape, 'int32'), attentionMask: tf.tensor2d(batch.attentionMask, shape) });
    const mask = tf.tensor2d(batch.responseMask, shape);
    return tf.div(tf.sum(tf.mul(stats.entropy, mask)), tf.sum(mask)).dataSync()[0]!;
  });
}

interface Run {
  history: Metrics[];
  before: number;
  after: number;
}

async function train(aepo: boolean): Promise<Run> {
  const policy = createTransformerPolicy({ tokenizer, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 16, seed: SEED });
  // Base policy: answers 'a' (correct) or 'b' (wrong) about equally often.
  const examples = prompts.flatMap((p) => ['a', 'b'].map((completion) => ({ prompt: p.prompt, completion })));
  await trainSft({ policy, examples, steps: 20, examplesPerStep: 8, learningRate: 0.01, seed: SEED });
  const before = await probeEntropy(policy);
  const trainer = createTrainer({
    policy,
    trainPrompts: prompts,
    reward: containsA,
    advantage: createGrpoAdvantage(),
    loss: createPpoClipLoss(),
    aggregator: createAggregator({ mode: 'token-mean' }),
    regularizers: aepo ? [createAepo({ rule: 'binary', targetEntropy: TARGET, temperatureHigh: T_HIGH, promptFraction: 1 })] : [],
    config: {
      steps: STEPS,
      seed: SEED,
      promptsPerStep: 8,
      samplesPerPrompt: 4,
      miniBatchSamples: 32,
      microBatchSamples: 32,
      sampling: { maxNewTokens: 6 },
      optimizer: { lr: 0.01, weightDecay: 0 },
      eval: { every: 0 },
    },
  });
  const { history } = await trainer.run();
  const after = await probeEntropy(policy);
  trainer.dispose();
  policy.dispose();
  return { history, before, after };
}

describe('entropy control end to end (cpu)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('AEPO below target picks T_high every step and ends with higher entropy than GRPO', { timeout: 60_000 }, async () => {
    const grpo = await train(false);
    const aepo = await train(true);
    expect(aepo.before).toBeCloseTo(grpo.before, 6); // same base policy

    // Controller: reading 0 before the first update, then step s−1's entropy/nll; below target → T_high.
    aepo.history.forEach((m, i) => {
      const expected = i === 0 ? 0 : aepo.history[i - 1]!['entropy/nll']!;
      expect(m['aepo/entropy_reading'], `step ${i + 1} reading`).toBe(expected);
      expect(m['aepo/entropy_reading']).toBeLessThanOrEqual(TARGET);
      expect(m['aepo/temperature'], `step ${i + 1} temperature`).toBe(T_HIGH);
      expect(m['batch/rows']).toBe(32); // replace mode keeps the batch size
    });
    expect(aepo.history.reduce((a, m) => a + m['aepo/samples_used']!, 0)).toBeGreaterThan(STEPS * 4);

    // GRPO collapses entropy; AEPO holds it near (usually above) the base policy's, on the same probe.
    expect(grpo.after).toBeLessThan(grpo.before);
    expect(aepo.after).toBeGreaterThan(0.9 * aepo.before);
    expect(aepo.after).toBeGreaterThan(grpo.after + 0.1);
    // The controller's own reading (the last update's nll) tells the same story.
    const last = (r: Run) => r.history[r.history.length - 1]!['entropy/nll']!;
    expect(last(aepo)).toBeGreaterThan(last(grpo) + 0.25);
  });
});
