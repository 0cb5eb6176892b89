/**
 * One training step as a pipeline of named stages, each in its own module:
 *
 *   rolloutStage    (rollout.ts)     draw prompts, `beforeRollout` hooks, sample the main batch
 *   scoreStage      (score.ts)       the reward over every row → ScoredBatch (failures counted per step)
 *   dynamicSamplingStage (dynamic-sampling.ts)  optional: drop constant-reward groups, refill
 *   advantageStage  (advantages.ts)  rewards → per-token advantages → TrainBatch
 *   regularizeStage (regularize.ts)  `augmentBatch` then `shapeAdvantages` hooks
 *   updateStage     (update.ts)      reference log-probs, learning rate, `runUpdate`
 *   stepMetrics     (metrics.ts)     the step's row; `afterUpdate` and `metrics` hooks
 *
 * After the step the trainer records the row, then the run schedule (trainer.ts) runs the
 * due evaluation (`evaluateStage`, evaluate.ts) and checkpoint (`saveCheckpointStage`,
 * checkpoint.ts). Every stage takes only the parts it uses, so each can be tested alone,
 * and checks what the components it calls return (component-checks.ts).
 */
import type { Metrics, ScoredBatch } from '@rftkit/core';
import { advantageStage } from './advantages';
import { stepMetrics } from './metrics';
import { now, type TrainerParts } from './parts';
import { dynamicSamplingStage } from './dynamic-sampling';
import { augmentContext, regularizeStage } from './regularize';
import { rolloutStage } from './rollout';
import { scoreStage } from './score';
import { updateStage } from './update';

/**
 * Runs step `step` (1-based) through every stage and returns its metrics row. `onScored`
 * sees the step's scored main batch (after dynamic sampling, before regularizers add rows).
 */
export async function runStepStages(parts: TrainerParts, step: number, onScored?: (batch: ScoredBatch) => void): Promise<Metrics> {
  const t0 = now();
  let rollout = await rolloutStage(parts, step);
  let scored = await scoreStage(parts, rollout.batch, step);
  let samplingMetrics: Metrics = {};
  if (parts.config.dynamicSampling.enabled) {
    const ds = await dynamicSamplingStage(parts, rollout, scored, step);
    scored = ds.scored;
    rollout = { ...rollout, prompts: ds.prompts, batch: ds.scored, seconds: rollout.seconds + ds.seconds };
    samplingMetrics = ds.metrics;
  }
  onScored?.(scored);
  const advantages = advantageStage(parts.advantage, scored, step);
  const batch = await regularizeStage(parts.regularizers, advantages.batch, augmentContext(parts, rollout));
  // Every batch of the step is scored by now: stop here if the reward keeps failing.
  const rewardFailures = parts.scorer.endWindow();
  const update = updateStage(parts, batch, rollout.info);
  const metrics = stepMetrics(parts.regularizers, {
    info: rollout.info,
    scored,
    rolloutSeconds: rollout.seconds,
    advantageMetrics: advantages.metrics,
    updateMetrics: { ...samplingMetrics, ...update.metrics, ...rewardFailures },
    updateSeconds: update.seconds,
    batchRows: batch.rows,
  });
  metrics['time/step_s'] = now() - t0;
  return metrics;
}
