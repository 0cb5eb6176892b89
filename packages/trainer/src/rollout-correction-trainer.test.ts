import * as tf from '@tensorflow/tfjs-core';
import type { Metrics, PromptRecord } from '@rftkit/core';
import { describeBackends, expectAllClose } from '@rftkit/tensor/testing';
import { BigramEngine, BigramPolicy, charReward, charTokenizer, groupAdvantage, ppoClipLoss, tokenMean } from '@rftkit/test-kit';
import { expect, it } from 'vitest';
import { createTrainer } from './trainer';

// End to end: local rollouts are on-policy, so the engine's T=1 log-probs match the
// trainer's old log-probs and the rollout corrections leave the run unchanged.

const tok = charTokenizer('ab');
const prompts: PromptRecord[] = Array.from({ length: 6 }, (_, i) => ({ id: `p${i}`, prompt: i % 2 ? 'ab' : 'ba' }));

async function train(rolloutCorrection: Record<string, boolean>): Promise<Metrics[]> {
  const policy = new BigramPolicy(tok, 1);
  const trainer = createTrainer({
    policy,
    engine: new BigramEngine(policy),
    trainPrompts: prompts,
    testPrompts: prompts.slice(0, 2),
    reward: charReward('a'),
    advantage: groupAdvantage,
    loss: ppoClipLoss,
    aggregator: tokenMean,
    regularizers: [],
    config: {
      steps: 3,
      seed: 3,
      promptsPerStep: 3,
      samplesPerPrompt: 4,
      miniBatchSamples: 6,
      microBatchSamples: 3,
      epochs: 2,
      sampling: { maxNewTokens: 6 },
      optimizer: { lr: 0.05 },
      eval: { every: 0, samplesPerPrompt: 2, k: [1], sampling: { maxNewTokens: 6 } },
      rolloutCorrection,
    },
  });
  const out: Metrics[] = [];
  for (let s = 0; s < 3; s++) out.push(await trainer.step());
  trainer.dispose();
  policy.dispose();
  return out;
}

const timing = (k: string) => k.startsWith('time/') || k === 'rollout/tokens_per_s';

describeBackends('rollout corrections in a trainer run', () => {
  it('on-policy local rollouts: mismatch ≈ 0, and all corrections on give the metrics of the run without them', async () => {
    const before = tf.memory().numTensors;
    const off = await train({});
    const on = await train({ tokenIs: true, seqMask: true, tokenMask: true });
    expect(tf.memory().numTensors).toBe(before);
    for (const [s, m] of off.entries()) {
      const c = on[s]!;
      for (const run of [m, c]) {
        expect(run['rollout/logp_abs_diff']).toBeTypeOf('number');
        expect(Math.abs(run['rollout/logp_abs_diff']!)).toBeLessThan(1e-5);
        expect(Math.abs(run['rollout/kl']!)).toBeLessThan(1e-5);
      }
      expect(c['rollout_correction/masked_token_frac']).toBe(0);
      expect(c['rollout_correction/masked_seq_frac']).toBe(0);
      expect(c['rollout_correction/weight_mean']).toBeCloseTo(1, 5);
      const shared = Object.keys(m).filter((k) => !timing(k) && k in c);
      expect(shared.length).toBeGreaterThan(10);
      for (const k of shared) expectAllClose([c[k]!], [m[k]!], { atol: 1e-6, rtol: 1e-5, label: `step ${s + 1} ${k}` });
    }
    // The policy learns over the run, so equal metrics are not equal by standing still.
    expect(off.at(-1)!.approx_kl).toBeGreaterThan(0);
  });
});
