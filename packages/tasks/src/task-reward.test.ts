import { Registry } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { createWeightedReward, rewardDefinitions } from '@rftkit/rewards';
import { describe, expect, it } from 'vitest';
import { createCountdownTask } from './countdown';
import { taskRewardDefinition } from './task-reward';

describe('taskRewardDefinition', () => {
  it("lets a composite reward name the task verifier as 'task'", async () => {
    const task = createCountdownTask();
    const registry = new Registry<RewardFunction>('reward', [...rewardDefinitions, taskRewardDefinition(task)]);
    const reward = createWeightedReward({
      registry,
      terms: [
        { name: 'correct', reward: 'task' },
        { name: 'short', weight: 1, reward: { use: 'length-penalty', with: { target: 4, coefficient: 0.5, unit: 'chars' } } },
      ],
    });
    const prompt = { id: 'p', prompt: '3 5 8>19:' };
    const got = await reward.score([
      { prompt, completion: '3*8-5', finishReason: 'stop' },
      { prompt, completion: '3*5+8', finishReason: 'stop' },
    ]);
    // 5 characters, target 4: −0.5 each; correct 1 / 0.
    expect(got).toEqual([
      { score: 0.5, components: { correct: 1, short: -0.5 } },
      { score: -0.5, components: { correct: 0, short: -0.5 } },
    ]);
  });
});
