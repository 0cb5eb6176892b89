import type * as tf from '@tensorflow/tfjs-core';

/** Everything per-token is `[rows, seqLen]` and aligned with the batch tokens. */
export interface PolicyLossInput {
  /** Current policy log-probs at T=1 (differentiable). */
  logp: tf.Tensor2D;
  /** Old (behaviour) policy log-probs at T=1, constant. */
  oldLogp: tf.Tensor2D;
  advantages: tf.Tensor2D;
  /** Response mask. */
  mask: tf.Tensor2D;
}

export interface PolicyLossOutput {
  /** Per-token loss, not yet aggregated (zero outside the mask). Owned by the caller. */
  tokenLoss: tf.Tensor2D;
  /** Scalar metrics of this (micro-)batch, e.g. `clip/frac_low`. Owned by the caller. */
  metrics: Record<string, tf.Scalar>;
}

export interface PolicyLoss {
  readonly id: string;
  compute(input: PolicyLossInput): PolicyLossOutput;
}

/**
 * Sizes of the whole (global) batch being trained on. Aggregators divide by these, not by
 * the micro-batch's own sizes, so gradient accumulation over micro-batches equals one
 * pass over the whole batch.
 */
export interface AggregationContext {
  /** Response tokens in the global batch. */
  totalTokens: number;
  /** Rows with response tokens in the global batch. */
  totalSequences: number;
  /** The constant divisor of `seq-mean-token-sum-norm` (max response length). */
  maxResponseLength: number;
}

export interface LossAggregator {
  readonly id: string;
  aggregate(tokenLoss: tf.Tensor2D, mask: tf.Tensor2D, context: AggregationContext): tf.Scalar;
}

/** A per-token estimator of KL(π_θ ‖ π_ref) from log-probs of sampled tokens. */
export interface KlEstimator {
  readonly id: string;
  /** Per-token KL estimate `[rows, seqLen]` (not masked). */
  compute(logp: tf.Tensor2D, refLogp: tf.Tensor2D): tf.Tensor2D;
}
