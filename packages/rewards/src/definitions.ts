import type { ComponentDefinition } from '@rftkit/core';
import { basicRewardDefinitions } from './builtins';
import { weightedDefinition } from './weighted';

/** Every built-in reward (family 'reward'), for the runner's registry. */
export const rewardDefinitions: ComponentDefinition[] = [...basicRewardDefinitions, weightedDefinition];
