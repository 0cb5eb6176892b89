import type { RewardFunction, RolloutBatch, ScoredBatch } from '@rftkit/core';
import { scoreBatch } from '@rftkit/rewards';

export interface ScoringOptions {
  timeoutMs?: number;
  errorScore?: number;
}

/** Score stage: the run's reward over a rollout batch (the main one or a regularizer's). */
export function createScorer(
  reward: RewardFunction,
  options: ScoringOptions | undefined,
  log: (message: string) => void,
): (batch: RolloutBatch) => Promise<ScoredBatch> {
  return (batch) => scoreBatch(reward, batch, { ...options, onWarning: log });
}
