import { concatBatches, selectRows } from '@rftkit/core';
import type { AugmentContext, Sampler, TrainBatch } from '@rftkit/core';

/**
 * The machinery of target-distribution REINFORCE (AEPO §7): draw extra responses from a
 * target distribution, score them, keep those that pass a reward filter, give them
 * advantage 1 on every response token, and put them into the training batch either by
 * replacing the batch's first rows or by appending weighted rows.
 */

export type TargetFilter = 'positive' | 'advantage';

export interface DrawTargetOptions {
  sampler: Sampler;
  /** Fraction of the step's prompts (the first ones) that get extra samples. */
  promptFraction: number;
  /** Responses per prompt; default: the run's samplesPerPrompt. */
  samplesPerPrompt?: number | undefined;
  /** 'positive': score > threshold; 'advantage': group advantage (of the extra groups) > threshold. */
  filter: TargetFilter;
  threshold: number;
  /** Seed stream of the extra rollout, and its rows' `source`. */
  stream: string;
  source: string;
}

export interface DrawnTargetRows {
  /** Rows that passed the filter, in sampling order, advantage 1 on response tokens; undefined when none. */
  kept: TrainBatch | undefined;
  generated: number;
  keptCount: number;
  /** Mean score of all generated rows (NaN when none). */
  rewardMean: number;
}

/** The number of prompts that get extra samples: ⌊P·fraction⌋, at least 1 when P > 0. */
export function targetPromptCount(prompts: number, fraction: number): number {
  if (prompts <= 0) return 0;
  return Math.min(prompts, Math.max(1, Math.floor(prompts * fraction)));
}

function maxGroupId(batch: TrainBatch): number {
  let m = -1;
  for (const g of batch.groupIds) if (g > m) m = g;
  return m;
}

/** Per-row advantage: the estimator's sequence advantage, else the mean over response tokens. */
function rowAdvantages(
  result: { advantages: Float32Array; sequenceAdvantages?: Float32Array },
  rows: number,
  seqLen: number,
  mask: Float32Array,
): Float32Array {
  if (result.sequenceAdvantages && result.sequenceAdvantages.length === rows) return result.sequenceAdvantages;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    let n = 0;
    for (let t = 0; t < seqLen; t++) {
      const m = mask[r * seqLen + t]!;
      if (m > 0) {
        s += result.advantages[r * seqLen + t]!;
        n++;
      }
    }
    out[r] = n > 0 ? s / n : 0;
  }
  return out;
}

export async function drawTargetRows(main: TrainBatch, context: AugmentContext, options: DrawTargetOptions): Promise<DrawnTargetRows> {
  const count = targetPromptCount(context.prompts.length, options.promptFraction);
  if (count === 0) return { kept: undefined, generated: 0, keptCount: 0, rewardMean: Number.NaN };
  const sampled = await options.sampler.sample(
    {
      prompts: context.prompts.slice(0, count),
      samplesPerPrompt: options.samplesPerPrompt ?? context.samplesPerPrompt,
      sampling: context.sampling,
      seed: context.seed,
      step: context.step,
      stream: options.stream,
      source: options.source,
      groupIdOffset: maxGroupId(main) + 1,
    },
    context.referenceEngine ? { engine: context.engine, referenceEngine: context.referenceEngine } : { engine: context.engine },
  );
  const scored = await context.score(sampled);
  const { rows, seqLen, responseMask } = scored;
  // Scores and advantages are float32: compare in float32 so a score of 0.05 is not "> 0.05".
  const threshold = Math.fround(options.threshold);
  let keep: (r: number) => boolean;
  if (options.filter === 'positive') {
    keep = (r) => scored.scores[r]! > threshold;
  } else {
    const result = context.advantages.compute({ rows, seqLen, scores: scored.scores, groupIds: scored.groupIds, responseMask });
    const adv = rowAdvantages(result, rows, seqLen, responseMask);
    keep = (r) => adv[r]! > threshold;
  }
  const keptIdx: number[] = [];
  for (let r = 0; r < rows; r++) if (keep(r)) keptIdx.push(r);
  let sum = 0;
  for (let r = 0; r < rows; r++) sum += scored.scores[r]!;
  const rewardMean = rows > 0 ? sum / rows : Number.NaN;
  if (keptIdx.length === 0) return { kept: undefined, generated: rows, keptCount: 0, rewardMean };
  // REINFORCE with an indicator reward: advantage exactly 1 on every response token.
  const advantages = new Float32Array(rows * seqLen);
  for (let i = 0; i < advantages.length; i++) advantages[i] = responseMask[i]! > 0 ? 1 : 0;
  const withAdv: TrainBatch = { ...scored, advantages };
  delete withAdv.rowWeights;
  return { kept: selectRows(withAdv, keptIdx), generated: rows, keptCount: keptIdx.length, rewardMean };
}

/** The first `n` rows of a batch (the batch itself when it has exactly `n`). */
export function takeFirstRows(batch: TrainBatch, n: number): TrainBatch {
  if (n === batch.rows) return batch;
  return selectRows(batch, Array.from({ length: Math.min(n, batch.rows) }, (_, i) => i));
}

/**
 * Replaces the first `count` rows of `main` with the first `count` rows of `extra`; the
 * batch size is unchanged. Rows are right-padded to a common length.
 */
export function replaceFirstRows(main: TrainBatch, extra: TrainBatch, count: number, padId: number): TrainBatch {
  const n = Math.min(count, main.rows, extra.rows);
  if (n <= 0) return main;
  const joined = concatBatches([main, takeFirstRows(extra, n)], padId);
  const order: number[] = [];
  for (let i = 0; i < n; i++) order.push(main.rows + i);
  for (let r = n; r < main.rows; r++) order.push(r);
  return selectRows(joined, order);
}

/**
 * Appends `extra` rows with weights chosen so that, under token-mean aggregation, the
 * step's loss is exactly L_main + α·L_extra, each the token mean over its own rows:
 * main rows are scaled by (N_m + N_e)/N_m and extra rows weighted α·(N_m + N_e)/N_e,
 * N = response tokens. Existing row weights of `main` are kept (multiplied).
 */
export function appendWeightedRows(main: TrainBatch, extra: TrainBatch, alpha: number, padId: number): TrainBatch {
  const tokens = (b: TrainBatch) => {
    let n = 0;
    for (const m of b.responseMask) n += m > 0 ? 1 : 0;
    return n;
  };
  const nm = tokens(main);
  const ne = tokens(extra);
  if (ne === 0) return main;
  const total = nm + ne;
  const mainScale = nm > 0 ? total / nm : 1;
  const mainWeights = new Float32Array(main.rows);
  for (let r = 0; r < main.rows; r++) mainWeights[r] = (main.rowWeights?.[r] ?? 1) * mainScale;
  const extraWeights = new Float32Array(extra.rows).fill((alpha * total) / ne);
  return concatBatches([{ ...main, rowWeights: mainWeights }, { ...extra, rowWeights: extraWeights }], padId);
}
