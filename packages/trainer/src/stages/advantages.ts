import { type AdvantageEstimator, type Metrics, type ScoredBatch, ShapeError, type TrainBatch } from '@rftkit/core';
import { checkFinite, checkLength, componentName, guard } from './component-checks';

export interface AdvantageStageResult {
  batch: TrainBatch;
  /** The estimator's own metrics. */
  metrics: Metrics;
}

/**
 * Advantage stage: turns the scored batch's rewards into per-token advantages, checking
 * the estimator returned one finite value per token (`ShapeError` / `ComponentError` naming it).
 */
export function advantageStage(advantage: AdvantageEstimator, scored: ScoredBatch, step: number): AdvantageStageResult {
  const name = componentName('advantage', advantage.id);
  const { rows, seqLen } = scored;
  const result = guard(name, step, () => advantage.compute({
    rows: scored.rows,
    seqLen: scored.seqLen,
    scores: scored.scores,
    groupIds: scored.groupIds,
    responseMask: scored.responseMask,
  }));
  if (!result || typeof result !== 'object' || !(result.advantages instanceof Float32Array)) {
    throw new ShapeError(`${name} at step ${step}`, 'expected { advantages: Float32Array, metrics }');
  }
  checkLength(name, step, 'advantages', result.advantages.length, rows * seqLen, `rows × seqLen = ${rows} × ${seqLen}`);
  checkFinite(name, step, 'advantages', result.advantages, seqLen);
  if (result.sequenceAdvantages) checkLength(name, step, 'sequenceAdvantages', result.sequenceAdvantages.length, rows, 'rows');
  return { batch: { ...scored, advantages: result.advantages }, metrics: result.metrics };
}
