import type { FinishReason, PromptRecord } from './batch';

export interface RewardInput {
  prompt: PromptRecord;
  completion: string;
  finishReason: FinishReason;
}

/** A score, or a score with named components (logged as `reward/<name>`). */
export type RewardValue = number | { score: number; components?: Record<string, number> };

/** Scores a batch of completions. May be sync or async. */
export interface RewardFunction {
  readonly id: string;
  score(inputs: RewardInput[]): RewardValue[] | Promise<RewardValue[]>;
}
