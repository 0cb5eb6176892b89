import type { Metrics, StepInfo, TrainBatch } from '@rftkit/core';
import { learningRate } from '../optimizer';
import { hostTokenStats } from '../token-stats';
import { runUpdate } from '../update';
import { now, type TrainerParts } from './parts';

export interface UpdateStageResult {
  metrics: Metrics;
  seconds: number;
}

/** Update stage: reference log-probs (when there is a reference), the step's learning rate, `runUpdate`. */
export function updateStage(
  parts: Pick<TrainerParts, 'config' | 'policy' | 'reference' | 'optimizer' | 'loss' | 'aggregator' | 'regularizers'>,
  batch: TrainBatch,
  info: StepInfo,
): UpdateStageResult {
  const { config } = parts;
  const t0 = now();
  const refLogp = parts.reference ? hostTokenStats(parts.reference, batch, 1, config.microBatchSamples).logp : undefined;
  const metrics = runUpdate({
    policy: parts.policy,
    optimizer: parts.optimizer,
    loss: parts.loss,
    aggregator: parts.aggregator,
    regularizers: parts.regularizers,
    batch,
    refLogp,
    miniBatchSamples: config.miniBatchSamples,
    microBatchSamples: config.microBatchSamples,
    epochs: config.epochs,
    gradClip: config.optimizer.gradClip,
    lr: learningRate(config.optimizer, info.step, config.steps),
    info,
    corrections: { rolloutCorrection: config.rolloutCorrection, overlongFilter: config.overlongFilter },
  });
  return { metrics, seconds: now() - t0 };
}
