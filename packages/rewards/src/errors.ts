import { RftError } from '@rftkit/core';
import type { RewardInput } from '@rftkit/core';

/** A reward could not score an input (e.g. the prompt has no reference answer). */
export class RewardError extends RftError {
  readonly reward: string;
  constructor(reward: string, reason: string, options?: { cause?: unknown }) {
    super('E_REWARD', `Reward '${reward}': ${reason}`, options);
    this.reward = reward;
  }
}

/** The prompt's reference answer; a clear error when the prompt has none. */
export function referenceOf(input: RewardInput, reward: string): string {
  const ref = input.prompt.reference;
  if (typeof ref !== 'string') {
    throw new RewardError(reward, `prompt '${input.prompt.id}' has no reference answer (PromptRecord.reference)`);
  }
  return ref;
}
