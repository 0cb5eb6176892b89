import { type AdvantageEstimator, type AdvantageInput, defineComponent, responseLengths } from '@rftkit/core';
import { z } from 'zod';
import { broadcastRows, groupRows, result, rowScores, validateInput } from './common';

/**
 * OPO: r_i − b_g with the length-weighted baseline b_g = Σ_j |y_j| r_j / Σ_j |y_j| (the
 * optimal baseline under on-policy training). Size-1 groups get b = 0 (as verl); a group
 * whose responses are all empty falls back to the plain mean.
 */
export const opoAdvantage = defineComponent({
  id: 'opo',
  family: 'advantage',
  description: 'OPO: r − length-weighted group mean of the rewards.',
  schema: z.strictObject({}),
  build: (): AdvantageEstimator => ({
    id: 'opo',
    compute(input: AdvantageInput) {
      validateInput('advantage:opo', input);
      const scores = rowScores(input);
      const groups = groupRows(input.groupIds);
      const lengths = responseLengths(input);
      const rowAdv = new Float64Array(input.rows);
      for (const g of groups) {
        let baseline = 0;
        if (g.length > 1) {
          let wsum = 0;
          let lsum = 0;
          for (const r of g) {
            wsum += lengths[r]! * scores[r]!;
            lsum += lengths[r]!;
          }
          baseline = lsum > 0 ? wsum / lsum : g.reduce((a, r) => a + scores[r]!, 0) / g.length;
        }
        for (const r of g) rowAdv[r] = scores[r]! - baseline;
      }
      const seq = Float32Array.from(rowAdv);
      return result(broadcastRows(seq, input), input, scores, groups, seq);
    },
  }),
});

export const createOpoAdvantage = opoAdvantage.create;
