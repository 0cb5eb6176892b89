import type { Metrics } from './batch';

export interface AdvantageInput {
  rows: number;
  seqLen: number;
  /** Scalar reward per row. */
  scores: Float32Array;
  groupIds: Int32Array;
  /** `[rows * seqLen]`, 1 on response tokens. */
  responseMask: Float32Array;
  /** Optional per-token rewards (e.g. a KL penalty folded into the reward), `[rows * seqLen]`. */
  tokenRewards?: Float32Array;
}

export interface AdvantageResult {
  /** `[rows * seqLen]`, 0 outside the response mask. */
  advantages: Float32Array;
  /** Per-row advantage, for outcome-level estimators. */
  sequenceAdvantages?: Float32Array;
  metrics: Metrics;
}

/** Turns rewards into per-token advantages. Host-side: inputs are plain arrays. */
export interface AdvantageEstimator {
  readonly id: string;
  compute(input: AdvantageInput): AdvantageResult;
}
