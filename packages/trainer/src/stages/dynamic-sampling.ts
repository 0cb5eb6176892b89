import { concatBatches, deriveSeed, type Metrics, type PromptRecord, type ScoredBatch, selectRows } from '@rftkit/core';
import { componentName, guardAsync } from './component-checks';
import { now, type TrainerParts } from './parts';
import type { RolloutResult } from './rollout';
import { drawPrompts } from './rollout';
import { scoreStage } from './score';
import { std } from './metrics';

export interface DynamicSamplingResult {
  /** The step's groups: `promptsPerStep` of them unless the round bound was hit. */
  scored: ScoredBatch;
  /** Prompts of `scored`, in group order (`promptIndex` indexes them). */
  prompts: PromptRecord[];
  metrics: Metrics;
  /** Seconds spent generating the extra rounds. */
  seconds: number;
}

/** Groups of a scored batch in row order: group id → its rows. */
function groupsOf(batch: ScoredBatch): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let r = 0; r < batch.rows; r++) {
    const g = batch.groupIds[r]!;
    groups.set(g, [...(groups.get(g) ?? []), r]);
  }
  return groups;
}

/**
 * DAPO dynamic sampling: groups whose rewards all agree (std < 1e-6, zero advantage under
 * group normalisation) are dropped, and more prompts are sampled, at most
 * `maxRolloutRounds` extra rounds of as many prompts as groups are missing, until
 * `promptsPerStep` groups remain (extra groups of the last round are left out). The
 * prompts of round k are a seeded draw from the stream (seed, 'dynamic-sampling', step, k)
 * and its responses are sampled with that derived seed, so a run is reproducible and a
 * resumed run draws the same. When the bound is hit the step trains on the groups it has
 * (when none is left, on the first round's batch, whose advantages are all zero).
 *
 * Metrics: `dynamic_sampling/dropped_groups` (over all rounds), `dynamic_sampling/rounds`
 * (extra rounds run), `dynamic_sampling/filled_frac` (kept groups / promptsPerStep).
 */
export async function dynamicSamplingStage(
  parts: Pick<TrainerParts, 'config' | 'engine' | 'trainPrompts' | 'reward' | 'scorer'>,
  rollout: RolloutResult,
  first: ScoredBatch,
  step: number,
): Promise<DynamicSamplingResult> {
  const { config } = parts;
  const want = config.promptsPerStep;
  const kept: ScoredBatch[] = [];
  const keptPrompts: PromptRecord[] = [];
  let groupCount = 0;
  let dropped = 0;
  const take = (batch: ScoredBatch) => {
    for (const rows of groupsOf(batch).values()) {
      if (std(rows.map((r) => batch.scores[r]!)) < 1e-6) {
        dropped++;
        continue;
      }
      if (groupCount >= want) continue;
      const group = selectRows(batch, rows);
      // One prompt and one group id per kept group, renumbered in order.
      keptPrompts.push(batch.prompts[batch.promptIndex[rows[0]!]!]!);
      kept.push({ ...group, prompts: [keptPrompts.at(-1)!], promptIndex: new Int32Array(rows.length), groupIds: new Int32Array(rows.length).fill(groupCount) });
      groupCount++;
    }
  };
  take(first);
  let rounds = 0;
  let seconds = 0;
  while (groupCount < want && rounds < config.dynamicSampling.maxRolloutRounds) {
    rounds++;
    const seed = deriveSeed(config.seed, 'dynamic-sampling', step, rounds);
    const prompts = drawPrompts(parts.trainPrompts, want - groupCount, seed, step);
    const t0 = now();
    const request = { prompts, samplesPerPrompt: config.samplesPerPrompt, sampling: config.sampling, seed, step, stream: 'main' };
    const batch = await guardAsync(componentName('rollout engine', parts.engine.id), step, () => parts.engine.generate(request));
    seconds += now() - t0;
    take(await scoreStage(parts, batch, step));
  }
  const metrics: Metrics = {
    'dynamic_sampling/dropped_groups': dropped,
    'dynamic_sampling/rounds': rounds,
    'dynamic_sampling/filled_frac': groupCount / want,
  };
  if (kept.length === 0) return { scored: first, prompts: rollout.prompts, metrics, seconds };
  // concatBatches offsets promptIndex by each batch's prompts, so row r's prompt stays its own.
  return { scored: concatBatches(kept), prompts: keptPrompts, metrics, seconds };
}
