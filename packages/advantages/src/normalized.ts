import { type AdvantageEstimator, type AdvantageInput, defineComponent } from '@rftkit/core';
import { z } from 'zod';
import { broadcastRows, groupRows, result, rowScores, std, validateInput } from './common';

/** Options of the mean/std/leave-one-out knob form; the named presets fix some of them. */
export const knobFields = {
  mean: z
    .enum(['group', 'batch', 'none'])
    .default('group')
    .describe('Baseline subtracted from each reward: the group mean, the batch mean, or nothing.'),
  std: z
    .enum(['group', 'batch', 'none'])
    .default('group')
    .describe('Divide by the std of the rewards of the group or of the whole batch (plus eps), or do not scale.'),
  leaveOneOut: z
    .boolean()
    .default(false)
    .describe('Baseline of row i excludes row i itself (RLOO): mean over the other rows of its group/batch.'),
  eps: z.number().min(0).default(1e-6).describe('Added to the std before dividing.'),
  biasedStd: z.boolean().default(false).describe('Use the biased (n) std instead of the unbiased (n−1) one.'),
  singletonGroups: z
    .enum(['reward', 'zero'])
    .default('reward')
    .describe(
      "Size-1 groups with a group baseline: 'reward' follows verl (mean 0, std 1, so A = r/(1+eps)); 'zero' gives them advantage 0.",
    ),
};

export const normalizedSchema = z.strictObject(knobFields);
export type NormalizedOptions = z.output<typeof normalizedSchema>;

/**
 * Row advantages (s_i − b_i) / (σ_i + eps) for the knob settings. Group statistics are of
 * the rows of the group, batch statistics of all rows; σ is always the std of the raw rewards.
 */
export function normalizedRowAdvantages(
  scores: Float64Array,
  groups: readonly number[][],
  options: NormalizedOptions,
): Float64Array {
  const rows = scores.length;
  const out = new Float64Array(rows);
  const all = Array.from({ length: rows }, (_, i) => i);
  const batchStd = std(scores, all, options.biasedStd);
  const batchSum = scores.reduce((a, b) => a + b, 0);
  for (const g of groups) {
    const n = g.length;
    const singleton = n === 1 && options.mean === 'group';
    if (singleton && options.singletonGroups === 'zero') continue;
    const groupSum = g.reduce((a, r) => a + scores[r]!, 0);
    const groupStd = n === 1 ? 1 : std(scores, g, options.biasedStd);
    for (const r of g) {
      const s = scores[r]!;
      let baseline = 0;
      if (options.mean === 'group' && n > 1) {
        baseline = options.leaveOneOut ? (groupSum - s) / (n - 1) : groupSum / n;
      } else if (options.mean === 'batch') {
        baseline = options.leaveOneOut ? (rows > 1 ? (batchSum - s) / (rows - 1) : 0) : batchSum / rows;
      }
      let a = s - baseline;
      if (options.std === 'group') a /= groupStd + options.eps;
      else if (options.std === 'batch') a /= batchStd + options.eps;
      out[r] = a;
    }
  }
  return out;
}

/** Shared body of every estimator that is a knob setting followed by a row-wise transform. */
export function knobEstimator(
  id: string,
  options: NormalizedOptions,
  post?: (rowAdv: Float64Array, scores: Float64Array) => Float64Array,
): AdvantageEstimator {
  return {
    id,
    compute(input: AdvantageInput) {
      validateInput(`advantage:${id}`, input);
      const scores = rowScores(input);
      const groups = groupRows(input.groupIds);
      let rowAdv = normalizedRowAdvantages(scores, groups, options);
      if (post) rowAdv = post(rowAdv, scores);
      const seq = Float32Array.from(rowAdv);
      return result(broadcastRows(seq, input), input, scores, groups, seq);
    },
  };
}

export const normalizedAdvantage = defineComponent({
  id: 'normalized',
  family: 'advantage',
  description: 'Knob form (AReaL/ROLL): mean {group,batch,none} × std {group,batch,none} × leave-one-out.',
  schema: normalizedSchema,
  build: (options): AdvantageEstimator => knobEstimator('normalized', options),
});

export const createNormalizedAdvantage = normalizedAdvantage.create;
