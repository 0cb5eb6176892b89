import type * as tf from '@tensorflow/tfjs-core';
import type { Metrics, PromptRecord, RolloutBatch, SamplingParams, ScoredBatch, TrainBatch } from './batch';
import type { AdvantageEstimator } from './advantage';
import type { AggregationContext } from './loss';
import type { Policy } from './policy';
import type { SamplerContext } from './rollout';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface StepInfo {
  /** 1-based index of the step being run. */
  step: number;
  /** The run seed. */
  seed: number;
}

/** Host-side per-token statistics of a batch under a policy, `[rows * seqLen]`. */
export interface HostTokenStats {
  logp: Float32Array;
  entropy: Float32Array;
}

/** What the batch stage offers a regularizer: the engine, the reward and the estimator. */
export interface AugmentContext extends StepInfo, SamplerContext {
  /** This step's prompts (one group each in the main batch). */
  prompts: PromptRecord[];
  samplesPerPrompt: number;
  /** The main rollout's sampling parameters. */
  sampling: SamplingParams;
  /** Scores rows with the run's reward. */
  score(batch: RolloutBatch): Promise<ScoredBatch>;
  advantages: AdvantageEstimator;
  policy: Policy;
  /** Log-probs/entropies of the batch's tokens under the current (pre-update) policy at `temperature`. */
  tokenStats(batch: RolloutBatch, temperature: number): HostTokenStats;
}

/**
 * Tensors of one mini-batch during the update, all `[rows, seqLen]`. `logp` and `entropy`
 * (exact, T=1) are differentiable; the others are constants. Borrowed: do not dispose.
 */
export interface UpdateContext extends StepInfo {
  logp: tf.Tensor2D;
  entropy: tf.Tensor2D;
  oldLogp: tf.Tensor2D;
  /** Reference-policy log-probs, present when the run has a reference policy. */
  refLogp?: tf.Tensor2D;
  advantages: tf.Tensor2D;
  mask: tf.Tensor2D;
  /** Aggregates a per-token quantity the way the run's policy loss is aggregated. */
  aggregate(tokenValues: tf.Tensor2D): tf.Scalar;
  aggregation: AggregationContext;
}

export interface LossTerm {
  /** Added to the policy loss (already aggregated). Owned by the caller. */
  loss: tf.Scalar;
  /** Owned by the caller. */
  metrics?: Record<string, tf.Scalar>;
}

/**
 * A regularizer acts at any stage of a step through optional hooks; each uses only the
 * hooks it needs. Order within a step:
 * beforeRollout → (main rollout, reward, advantages) → augmentBatch → shapeAdvantages →
 * per mini-batch: tokenAdvantages → (policy loss) → tokenLoss → lossTerms →
 * afterUpdate → metrics.
 */
export interface Regularizer {
  readonly id: string;
  /** True when the regularizer needs `refLogp` (a frozen reference policy). */
  readonly needsReference?: boolean;
  beforeRollout?(info: StepInfo): void | Promise<void>;
  /** Adds or replaces rows (AEPO's tempered REINFORCE rows). */
  augmentBatch?(batch: TrainBatch, context: AugmentContext): Promise<TrainBatch>;
  /** Host-side advantage shaping before the update (DCPO). */
  shapeAdvantages?(batch: TrainBatch, context: AugmentContext): TrainBatch | Promise<TrainBatch>;
  /** In-graph advantage shaping, e.g. Entropy-Adv. Returns new advantages (owned by caller). */
  tokenAdvantages?(context: UpdateContext): tf.Tensor2D;
  /** Changes the per-token policy loss, e.g. Clip-Cov / KL-Cov. Returns a new tensor. */
  tokenLoss?(tokenLoss: tf.Tensor2D, context: UpdateContext): tf.Tensor2D;
  /** Extra loss terms, e.g. entropy bonus or KL penalty. */
  lossTerms?(context: UpdateContext): LossTerm;
  /** Reads the step's metrics after the update (AEPO reads the entropy here). */
  afterUpdate?(metrics: Metrics, info: StepInfo): void;
  /** Controller state to log this step (e.g. `aepo/temperature`). */
  metrics?(): Metrics;
  /** State that must survive checkpoints. */
  state?(): JsonValue;
  loadState?(state: JsonValue): void;
}
