import type {
  AdvantageEstimator,
  LossAggregator,
  Policy,
  PolicyLoss,
  PromptRecord,
  Regularizer,
  RewardFunction,
  RolloutBatch,
  RolloutEngine,
  ScoredBatch,
} from '@rftkit/core';
import type { TrainerConfig } from '../config';
import type { AdamOptimizer } from '../optimizer';

/** The composition a trainer runs, as the stages of a step see it (built once by `createTrainer`). */
export interface TrainerParts {
  config: TrainerConfig;
  policy: Policy;
  /** Frozen reference policy, when a regularizer needs one. */
  reference?: Policy;
  engine: RolloutEngine;
  referenceEngine?: RolloutEngine;
  reward: RewardFunction;
  advantage: AdvantageEstimator;
  loss: PolicyLoss;
  aggregator: LossAggregator;
  regularizers: readonly Regularizer[];
  optimizer: AdamOptimizer;
  trainPrompts: readonly PromptRecord[];
  testPrompts: readonly PromptRecord[];
  /** Scores a rollout batch with the run's reward (scoring options applied). */
  score(batch: RolloutBatch): Promise<ScoredBatch>;
  log(message: string): void;
}

export const now = (): number => performance.now() / 1000;
