import type { RewardFunction } from '@rftkit/core';
import { describeBackends } from '@rftkit/tensor/testing';
import { expect, it } from 'vitest';
import { std } from './metrics';
import { testParts } from '../testing/parts';
import { dynamicSamplingStage } from './dynamic-sampling';
import { rolloutStage } from './rollout';
import { runStepStages } from './step';

// Prompt 'ba' (even ids) always scores 0: its groups are constant and must be dropped.
const reward: RewardFunction = {
  id: 'half-constant',
  score: (inputs) => inputs.map((i) => (i.prompt.prompt === 'ba' ? 0 : i.completion.split('a').length % 2)),
};

describeBackends('dynamicSamplingStage', () => {
  it('drops constant groups and refills until promptsPerStep groups, reproducibly', async () => {
    const run = async () => {
      const parts = testParts({ dynamicSampling: { enabled: true, maxRolloutRounds: 20 } }, { reward });
      const rollout = await rolloutStage(parts, 1);
      const first = await parts.scorer.score(rollout.batch);
      return dynamicSamplingStage(parts, rollout, first, 1);
    };
    const out = await run();
    expect(out.metrics['dynamic_sampling/filled_frac']).toBe(1);
    expect(out.metrics['dynamic_sampling/dropped_groups']).toBeGreaterThan(0);
    expect(out.metrics['dynamic_sampling/rounds']).toBeGreaterThan(0);
    expect(out.scored.rows).toBe(12);
    expect(new Set(out.scored.groupIds).size).toBe(3);
    for (let g = 0; g < 3; g++) {
      const scores = Array.from(out.scored.scores).filter((_, r) => out.scored.groupIds[r] === g);
      expect(std(scores)).toBeGreaterThan(1e-6);
    }
    for (let r = 0; r < out.scored.rows; r++) expect(out.scored.prompts[out.scored.promptIndex[r]!]!.prompt).toBe('ab');
    expect(Array.from((await run()).scored.seeds)).toEqual(Array.from(out.scored.seeds));
  });
  it('stops at maxRolloutRounds and trains on what there is', async () => {
    const never: RewardFunction = { id: 'const', score: (inputs) => inputs.map(() => 1) };
    const parts = testParts({ dynamicSampling: { enabled: true, maxRolloutRounds: 2 } }, { reward: never });
    const row = await runStepStages(parts, 1);
    expect(row['dynamic_sampling/rounds']).toBe(2);
    expect(row['dynamic_sampling/filled_frac']).toBe(0);
    expect(row['dynamic_sampling/dropped_groups']).toBe(3 + 3 + 3);
    expect(Number.isFinite(row.loss)).toBe(true);
  });
});
