// The trainer composed from the real packages: transformer policy, KV-cached rollout
// engine, GRPO, PPO-clip, AEPO and a KL penalty against an automatic frozen reference.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createGrpoAdvantage } from '@rftkit/advantages';
import type { Metrics, PromptRecord } from '@rftkit/core';
import { describeBackends, expectAllClose } from '@rftkit/tensor/testing';
import { createAggregator, createPpoClipLoss } from '@rftkit/losses';
import { createCharTokenizer, createTransformerPolicy } from '@rftkit/policy';
import { createAepo, createKlPenalty } from '@rftkit/regularizers';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { charReward } from '@rftkit/test-kit';
import { createTrainer, resumeTrainer, type TrainerOptions } from './trainer';

const tokenizer = createCharTokenizer({ alphabet: 'ab' });
const prompts: PromptRecord[] = ['a', 'b', 'ab', 'ba', 'aa', 'bb'].map((p, i) => ({ id: `p${i}`, prompt: p }));

function setup(outDir?: string): TrainerOptions {
  const policy = createTransformerPolicy({ tokenizer, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 16, seed: 5 });
  return {
    policy,
    trainPrompts: prompts,
    testPrompts: prompts.slice(0, 2),
    reward: charReward('a'),
    advantage: createGrpoAdvantage(),
    loss: createPpoClipLoss(),
    aggregator: createAggregator({ mode: 'token-mean' }),
    // Continuous rule, positive filter: AEPO adds rows on every step with any correct tempered sample.
    regularizers: [createAepo({ mode: 'additive', promptFraction: 0.5, threshold: 0.3 }), createKlPenalty({ coef: 0.01 })],
    config: {
      steps: 2,
      seed: 9,
      promptsPerStep: 2,
      samplesPerPrompt: 3,
      miniBatchSamples: 4,
      microBatchSamples: 3,
      sampling: { maxNewTokens: 5 },
      optimizer: { lr: 0.01 },
      eval: { every: 1, samplesPerPrompt: 2, k: [1, 2], threshold: 0.5, sampling: { maxNewTokens: 5 } },
    },
    outDir,
  };
}

const withoutTimes = (m: Metrics) =>
  Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('time/') && k !== 'rollout/tokens_per_s'));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rftkit-trainer-int-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeBackends('trainer with the transformer policy', (backend) => {
  it('steps leak no tensors and report AEPO and KL metrics', async () => {
    const options = setup();
    const trainer = createTrainer(options);
    await trainer.step();
    const before = tf.memory().numTensors;
    const m = await trainer.step();
    expect(tf.memory().numTensors).toBe(before);
    expect(m['kl/ref']).toBeGreaterThanOrEqual(0);
    expect(Object.keys(m).some((k) => k.startsWith('aepo/'))).toBe(true);
    for (const [k, v] of Object.entries(m)) expect(Number.isFinite(v), k).toBe(true);
    trainer.dispose();
    options.policy.dispose();
  });

  it('resumes from a savePolicy checkpoint exactly', async () => {
    const outA = join(dir, `${backend}-a`);
    const a = setup(outA);
    const ta = createTrainer(a);
    const summaryA = await ta.run();
    const wA = a.policy.getWeights();
    ta.dispose();
    a.policy.dispose();

    const outB = join(dir, `${backend}-b`);
    const b = setup(outB);
    const tb = createTrainer(b);
    await tb.step();
    await tb.saveCheckpoint();
    tb.dispose();
    b.policy.dispose();

    const c = setup(outB);
    const tc = await resumeTrainer(c);
    const summaryC = await tc.run();
    const wC = c.policy.getWeights();
    for (const name of Object.keys(wA)) expectAllClose(wC[name]!.values, wA[name]!.values, { atol: 0, label: name });
    expect(summaryC.history.map(withoutTimes)).toEqual(summaryA.history.map(withoutTimes));
    const lines = (await readFile(join(outB, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => withoutTimes(JSON.parse(l) as Metrics))).toEqual(summaryA.history.map(withoutTimes));
    tc.dispose();
    c.policy.dispose();
  });
});
