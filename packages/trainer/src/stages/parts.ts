import type {
  AdvantageEstimator,
  LossAggregator,
  Policy,
  PolicyLoss,
  PromptRecord,
  Regularizer,
  RewardFunction,
  RolloutEngine,
} from '@rftkit/core';
import type { TrainerConfig } from '../config';
import type { AdamOptimizer } from '../optimizer';
import type { Scorer } from './score';

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
  /** The run's reward for training batches (failures counted per step). */
  scorer: Scorer;
  /** The run's reward for evaluation (failures counted per evaluation, never stopping the run). */
  evalScorer: Scorer;
  log(message: string): void;
}

export const now = (): number => performance.now() / 1000;
