import { defineComponent } from '@rftkit/core';
import type { ComponentDefinition, RewardFunction, Task } from '@rftkit/core';
import { z } from 'zod';

const noOptions = z.strictObject({});

/**
 * A reward definition with id 'task' that returns `task.reward()`, so a config can name a
 * run's task verifier inside a composite reward (`{ name: 'correct', reward: 'task' }`)
 * once this definition is added to the reward registry.
 */
export function taskRewardDefinition(task: Task): ComponentDefinition<'reward', typeof noOptions, RewardFunction> {
  return defineComponent({
    id: 'task',
    family: 'reward',
    description: `The verifier of task '${task.id}'.`,
    schema: noOptions,
    build: () => task.reward(),
  });
}
