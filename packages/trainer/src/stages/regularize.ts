import type { AugmentContext, TrainBatch } from '@rftkit/core';
import { hostTokenStats } from '../token-stats';
import { checkTrainBatch, componentName, guardAsync } from './component-checks';
import type { TrainerParts } from './parts';
import type { RolloutResult } from './rollout';

/** What the batch hooks of regularizers may use this step. */
export function augmentContext(
  parts: Pick<TrainerParts, 'config' | 'engine' | 'referenceEngine' | 'scorer' | 'advantage' | 'policy'>,
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
    score: parts.scorer.score,
    advantages: parts.advantage,
    policy,
    tokenStats: (b, temperature) => hostTokenStats(policy, b, temperature, config.microBatchSamples),
  };
}

/**
 * Regularizer stage: every `augmentBatch` hook in order, then every `shapeAdvantages` hook;
 * each returned batch is checked (array lengths, finite scores and advantages).
 */
export async function regularizeStage(
  regularizers: TrainerParts['regularizers'],
  batch: TrainBatch,
  context: AugmentContext,
): Promise<TrainBatch> {
  let out = batch;
  const run = async (reg: (typeof regularizers)[number], hook: 'augmentBatch' | 'shapeAdvantages') => {
    const name = componentName('regularizer', reg.id);
    const input = out;
    out = await guardAsync(name, context.step, () => reg[hook]!(input, context));
    checkTrainBatch(`${name} (${hook})`, context.step, out);
  };
  for (const reg of regularizers) if (reg.augmentBatch) await run(reg, 'augmentBatch');
  for (const reg of regularizers) if (reg.shapeAdvantages) await run(reg, 'shapeAdvantages');
  return out;
}
