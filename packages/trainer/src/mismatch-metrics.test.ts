import { Rng } from '@rftkit/core';
import { describeBackends, expectAllClose } from '@rftkit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { optimizerSchema } from './config';
import { rolloutMismatchMetrics } from './mismatch-metrics';
import { AdamOptimizer } from './optimizer';
import { BigramEngine, BigramPolicy, charTokenizer, ppoClipLoss, tokenMean } from '@rftkit/test-kit';
import { runUpdate } from './update';

describe('rolloutMismatchMetrics', () => {
  it('reads response tokens only: mean |Δ|, k3, max ratio and the fraction outside [1/2, 2]', () => {
    const logpT1 = Float32Array.from([-9, -1, -2, -0.5, -9]);
    const d = [0.5, 0, -1];
    const oldLogp = Float32Array.from([0, -1 + d[0]!, -2 + d[1]!, -0.5 + d[2]!, 0]);
    const m = rolloutMismatchMetrics({ responseMask: Float32Array.from([0, 1, 1, 1, 0]), logpT1 }, oldLogp);
    const k3 = d.map((x) => Math.exp(x) - 1 - x);
    expectAllClose(
      [m['rollout/logp_abs_diff']!, m['rollout/kl']!, m['rollout/ratio_max']!, m['rollout/ratio_outside_frac']!],
      [0.5, (k3[0]! + k3[1]! + k3[2]!) / 3, Math.exp(0.5), 1 / 3],
      { atol: 1e-6 },
    );
    expect(rolloutMismatchMetrics({ responseMask: new Float32Array(5), logpT1 }, oldLogp)).toEqual({});
  });

  it('rollout/kl is an unbiased estimate of KL(rollout ‖ old) on tokens the rollout drew', () => {
    const q = [0.5, 0.25, 0.15, 0.1];
    const p = [0.3, 0.3, 0.2, 0.2];
    const exact = q.reduce((a, qi, i) => a + qi * Math.log(qi / p[i]!), 0);
    const n = 40_000;
    const rng = new Rng(5);
    const logpT1 = new Float32Array(n);
    const oldLogp = new Float32Array(n);
    const k3: number[] = [];
    for (let i = 0; i < n; i++) {
      let u = rng.float();
      let t = 0;
      while (t < q.length - 1 && u >= q[t]!) u -= q[t++]!;
      logpT1[i] = Math.log(q[t]!);
      oldLogp[i] = Math.log(p[t]!);
      const r = p[t]! / q[t]!;
      k3.push(r - 1 - Math.log(r));
    }
    const m = rolloutMismatchMetrics({ responseMask: new Float32Array(n).fill(1), logpT1 }, oldLogp);
    const mean = k3.reduce((a, b) => a + b, 0) / n;
    const se = Math.sqrt(k3.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) / n);
    expect(Math.abs(m['rollout/kl']! - exact)).toBeLessThan(4 * se);
  });
});

describeBackends('runUpdate mismatch metrics', () => {
  it('are near zero when the rollout ran the same policy, also for rows drawn at T ≠ 1', async () => {
    const tok = charTokenizer('ab');
    const policy = new BigramPolicy(tok, 1);
    const engine = new BigramEngine(policy);
    for (const temperature of [1, 0.5]) {
      const b = await engine.generate({
        prompts: [{ id: 'p', prompt: 'ab' }],
        samplesPerPrompt: 6,
        sampling: { temperature, topK: 0, topP: 1, minP: 0, maxNewTokens: 5, stopTokens: [] },
        seed: 1,
        step: 1,
      });
      const batch = { ...b, scores: new Float32Array(b.rows), rewardComponents: {}, advantages: new Float32Array(b.rows * b.seqLen) };
      const optimizer = new AdamOptimizer(policy.trainableVariables(), optimizerSchema.parse({ lr: 1e-3, weightDecay: 0 }));
      const m = runUpdate({
        policy,
        optimizer,
        loss: ppoClipLoss,
        aggregator: tokenMean,
        regularizers: [],
        batch,
        miniBatchSamples: 3,
        microBatchSamples: 3,
        epochs: 1,
        gradClip: 0,
        lr: 0,
        info: { step: 1, seed: 1 },
      });
      optimizer.dispose();
      expect(m['rollout/logp_abs_diff']).toBeLessThan(1e-5);
      expect(m['rollout/kl']).toBeLessThan(1e-9);
      expect(m['rollout/ratio_max']).toBeCloseTo(1, 4);
      expect(m['rollout/ratio_outside_frac']).toBe(0);
      if (temperature !== 1) {
        // behaviourLogp is of the tempered distribution: comparing with it would report a gap.
        let gap = 0;
        for (let i = 0; i < b.responseMask.length; i++) gap += b.responseMask[i]! * Math.abs(b.behaviourLogp[i]! - b.logpT1[i]!);
        expect(gap).toBeGreaterThan(0.1);
      }
    }
    policy.dispose();
  });
});
