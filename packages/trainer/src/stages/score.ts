import type { RewardFunction, RolloutBatch, ScoredBatch } from '@rftkit/core';
import { checkFinite, componentName } from './component-checks';
import type { TrainerParts } from './parts';
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

/** Score stage of a step: the main batch's scores, checked finite (the reward is named otherwise). */
export async function scoreStage(parts: Pick<TrainerParts, 'reward' | 'score'>, batch: RolloutBatch, step: number): Promise<ScoredBatch> {
  const scored = await parts.score(batch);
  checkFinite(componentName('reward', parts.reward.id), step, 'scores', scored.scores);
  return scored;
}
