import { type AdvantageEstimator, defineComponent } from '@rftkit/core';
import { z } from 'zod';
import { knobEstimator, knobFields } from './normalized';

/**
 * GPG: α·(r − μ_g)/F. α = B / #rows with a nonzero reward (verl's rescaling that undoes the
 * dilution by rows that carry no signal); F is a constant normaliser.
 */
export const gpgAdvantage = defineComponent({
  id: 'gpg',
  family: 'advantage',
  description: 'GPG: α·(r − group mean)/F with α = rows / rows with nonzero reward.',
  schema: z
    .strictObject({
      fNorm: z.number().positive().default(1).describe('Constant divisor F.'),
      singletonGroups: knobFields.singletonGroups,
    }),
  build: ({ fNorm, singletonGroups }): AdvantageEstimator =>
    knobEstimator(
      'gpg',
      { mean: 'group', std: 'none', leaveOneOut: false, eps: 0, biasedStd: false, singletonGroups },
      (rowAdv, scores) => {
        let nonzero = 0;
        for (const s of scores) if (s !== 0) nonzero++;
        const alpha = scores.length / Math.max(nonzero, 1);
        return rowAdv.map((a) => (alpha * a) / fNorm);
      },
    ),
});

export const createGpgAdvantage = gpgAdvantage.create;
