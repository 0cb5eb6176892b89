import type { AugmentContext, TrainBatch } from '@rftkit/core';
import { hostTokenStats } from '../token-stats';
import type { TrainerParts } from './parts';
import type { RolloutResult } from './rollout';

/** What the batch hooks of regularizers may use this step. */
export function augmentContext(
  parts: Pick<TrainerParts, 'config' | 'engine' | 'referenceEngine' | 'score' | 'advantage' | 'policy'>,
  rollout: Pick<RolloutResult, 'info' | 'prompts'>,
): AugmentContext {
  const { config, policy } = parts;
  return {
    ...rollout.info,
    engine: parts.engine,
    referenceEngine: parts.referenceEngine,
    prompts: rollout.prompts,
    samplesPerPrompt: config.samplesPerPrompt,
    sampling: config.sampling,
    score: parts.score,
    advantages: parts.advantage,
    policy,
    tokenStats: (b, temperature) => hostTokenStats(policy, b, temperature, config.microBatchSamples),
  };
}

/** Regularizer stage: every `augmentBatch` hook in order, then every `shapeAdvantages` hook. */
export async function regularizeStage(
  regularizers: TrainerParts['regularizers'],
  batch: TrainBatch,
  context: AugmentContext,
): Promise<TrainBatch> {
  let out = batch;
  for (const reg of regularizers) if (reg.augmentBatch) out = await reg.augmentBatch(out, context);
  for (const reg of regularizers) if (reg.shapeAdvantages) out = await reg.shapeAdvantages(out, context);
  return out;
}
