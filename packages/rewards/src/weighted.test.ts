import { OptionsError, Registry, defineComponent } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { rewardDefinitions } from './definitions';
import { input } from './test-helpers';
import { createWeightedReward } from './weighted';

describe('weighted', () => {
  it('sums weighted terms and reports each term as a component', async () => {
    const r = createWeightedReward({
      terms: [
        { name: 'correct', weight: 1, reward: 'exact-match' },
        { name: 'format', weight: 0.5, reward: { use: 'format', with: { pattern: '^\\d+$' } } },
        {
          name: 'custom',
          weight: -2,
          reward: { id: 'custom', score: async (xs) => xs.map((x) => ({ score: x.completion.length, components: { half: x.completion.length / 2 } })) },
        },
      ],
    });
    const got = await r.score([input('12', '12'), input('1x', '12')]);
    // row 0: 1·1 + 0.5·1 − 2·2 = −2.5; row 1: 0 + 0 − 4 = −4.
    expect(got).toEqual([
      { score: -2.5, components: { correct: 1, format: 1, custom: 2, 'custom/half': 1 } },
      { score: -4, components: { correct: 0, format: 0, custom: 2, 'custom/half': 1 } },
    ]);
  });
  it('resolves ids through a given registry', async () => {
    const constant = defineComponent({
      id: 'constant',
      family: 'reward',
      description: 'c',
      schema: z.object({ value: z.number().default(3) }),
      build: (o): RewardFunction => ({ id: 'constant', score: (xs) => xs.map(() => o.value) }),
    });
    const registry = new Registry<RewardFunction>('reward', [...rewardDefinitions, constant]);
    const r = createWeightedReward({ registry, terms: [{ name: 'c', weight: 2, reward: 'constant' }] });
    expect(await r.score([input('a')])).toEqual([{ score: 6, components: { c: 3 } }]);
    expect(() => createWeightedReward({ terms: [{ name: 'c', reward: 'constant' }] })).toThrow(/Unknown reward 'constant'. Available: .*exact-match/);
  });
  it('rejects empty and duplicate terms', () => {
    expect(() => createWeightedReward({ terms: [] })).toThrow(OptionsError);
    expect(() =>
      createWeightedReward({ terms: [{ name: 'a', reward: 'exact-match' }, { name: 'a', reward: 'exact-match' }] }),
    ).toThrow(/terms\[1\]\.name: duplicate term name 'a'/);
  });
  it('every built-in definition has a unique id in the reward family', () => {
    const ids = rewardDefinitions.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(rewardDefinitions.every((d) => d.family === 'reward')).toBe(true);
  });
});
