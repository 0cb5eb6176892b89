import { type PromptRecord, Rng, type RolloutBatch, type StepInfo } from '@rftkit/core';
import { componentName, guardAsync } from './component-checks';
import { now, type TrainerParts } from './parts';

/** Draws the step's prompts: a seeded permutation per step (cycled when more are needed than exist). */
export function drawPrompts(prompts: readonly PromptRecord[], count: number, seed: number, step: number): PromptRecord[] {
  const rng = Rng.derive(seed, 'prompts', step);
  const out: PromptRecord[] = [];
  while (out.length < count) {
    const order = rng.shuffle(Array.from({ length: prompts.length }, (_, i) => i));
    for (const i of order.slice(0, count - out.length)) out.push(prompts[i]!);
  }
  return out;
}

export interface RolloutResult {
  info: StepInfo;
  prompts: PromptRecord[];
  batch: RolloutBatch;
  /** Seconds spent generating (after the `beforeRollout` hooks). */
  seconds: number;
}

/** Rollout stage of step `step`: draws the prompts, runs `beforeRollout` hooks, samples the main batch. */
export async function rolloutStage(
  parts: Pick<TrainerParts, 'config' | 'engine' | 'regularizers' | 'trainPrompts'>,
  step: number,
): Promise<RolloutResult> {
  const { config } = parts;
  const info: StepInfo = { step, seed: config.seed };
  const prompts = drawPrompts(parts.trainPrompts, config.promptsPerStep, config.seed, step);
  for (const reg of parts.regularizers) {
    if (reg.beforeRollout) await guardAsync(componentName('regularizer', reg.id), step, () => reg.beforeRollout!(info));
  }
  const t0 = now();
  const request = { prompts, samplesPerPrompt: config.samplesPerPrompt, sampling: config.sampling, seed: config.seed, step, stream: 'main' };
  const batch = await guardAsync(componentName('rollout engine', parts.engine.id), step, () => parts.engine.generate(request));
  return { info, prompts, batch, seconds: now() - t0 };
}
