import type { AdvantageEstimator, Metrics, ScoredBatch, TrainBatch } from '@rftkit/core';

export interface AdvantageStageResult {
  batch: TrainBatch;
  /** The estimator's own metrics. */
  metrics: Metrics;
}

/** Advantage stage: turns the scored batch's rewards into per-token advantages. */
export function advantageStage(advantage: AdvantageEstimator, scored: ScoredBatch): AdvantageStageResult {
  const result = advantage.compute({
    rows: scored.rows,
    seqLen: scored.seqLen,
    scores: scored.scores,
    groupIds: scored.groupIds,
    responseMask: scored.responseMask,
  });
  return { batch: { ...scored, advantages: result.advantages }, metrics: result.metrics };
}
