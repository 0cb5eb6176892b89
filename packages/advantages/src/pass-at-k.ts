import { type AdvantageEstimator, type AdvantageInput, defineComponent } from '@rftkit/core';
import { z } from 'zod';
import { broadcastRows, groupRows, result, rowScores, std, validateInput } from './common';

/**
 * pass@k-oriented advantage (verl's `grpo_passk`): only the best row of each group gets
 * (r_max − r_2nd)/(σ_g + eps); all other rows get 0. Ties go to the first row of the group
 * (and then r_max − r_2nd = 0). Size-1 groups have no runner-up and get 0.
 */
export const passAtKAdvantage = defineComponent({
  id: 'pass-at-k',
  family: 'advantage',
  description: 'pass@k-oriented: only the best of a group gets (r_max − r_2nd)/(group std + eps).',
  schema: z
    .strictObject({
      normalize: z.boolean().default(true).describe('Divide by the group std + eps.'),
      eps: z.number().min(0).default(1e-6).describe('Added to the std before dividing.'),
      biasedStd: z.boolean().default(false).describe('Use the biased (n) std instead of the unbiased (n−1) one.'),
    }),
  build: ({ normalize, eps, biasedStd }): AdvantageEstimator => ({
    id: 'pass-at-k',
    compute(input: AdvantageInput) {
      validateInput('advantage:pass-at-k', input);
      const scores = rowScores(input);
      const groups = groupRows(input.groupIds);
      const rowAdv = new Float64Array(input.rows);
      for (const g of groups) {
        if (g.length < 2) continue;
        let best = g[0]!;
        for (const r of g) if (scores[r]! > scores[best]!) best = r;
        let second = Number.NEGATIVE_INFINITY;
        for (const r of g) if (r !== best && scores[r]! > second) second = scores[r]!;
        let a = scores[best]! - second;
        if (normalize) a /= std(scores, g, biasedStd) + eps;
        rowAdv[best] = a;
      }
      const seq = Float32Array.from(rowAdv);
      return result(broadcastRows(seq, input), input, scores, groups, seq);
    },
  }),
});

export const createPassAtKAdvantage = passAtKAdvantage.create;
