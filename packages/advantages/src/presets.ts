import { type AdvantageEstimator, defineComponent } from '@rftkit/core';
import { z } from 'zod';
import { knobEstimator, knobFields } from './normalized';

const { eps, biasedStd, singletonGroups } = knobFields;

/** GRPO: (r − μ_g)/(σ_g + eps), verl defaults (unbiased std, eps 1e-6). */
export const grpoAdvantage = defineComponent({
  id: 'grpo',
  family: 'advantage',
  description: 'GRPO: (r − group mean) / (group std + eps), broadcast over the response.',
  schema: z.strictObject({ eps, biasedStd, singletonGroups }),
  build: (o): AdvantageEstimator => knobEstimator('grpo', { ...o, mean: 'group', std: 'group', leaveOneOut: false }),
});

/** Dr.GRPO: r − μ_g, no std scaling (pair with `seq-mean-token-sum-norm` aggregation). */
export const drGrpoAdvantage = defineComponent({
  id: 'dr-grpo',
  family: 'advantage',
  description: 'Dr.GRPO: r − group mean (no std division).',
  schema: z.strictObject({ singletonGroups }),
  build: (o): AdvantageEstimator =>
    knobEstimator('dr-grpo', { ...o, mean: 'group', std: 'none', leaveOneOut: false, eps: 0, biasedStd: false }),
});

/** Group-mean baseline, batch-std scale: (r − μ_g)/(σ_batch + eps). */
export const batchStdAdvantage = defineComponent({
  id: 'batch-std',
  family: 'advantage',
  description: '(r − group mean) / (batch std + eps): group baseline, batch-level scale.',
  schema: z.strictObject({ eps, biasedStd, singletonGroups }),
  build: (o): AdvantageEstimator => knobEstimator('batch-std', { ...o, mean: 'group', std: 'batch', leaveOneOut: false }),
});

/** RLOO: r_i − mean_{j≠i} r_j within the group. */
export const rlooAdvantage = defineComponent({
  id: 'rloo',
  family: 'advantage',
  description: 'RLOO: r − mean of the other rewards of the group (leave-one-out baseline).',
  schema: z.strictObject({ singletonGroups }),
  build: (o): AdvantageEstimator =>
    knobEstimator('rloo', { ...o, mean: 'group', std: 'none', leaveOneOut: true, eps: 0, biasedStd: false }),
});

export const createGrpoAdvantage = grpoAdvantage.create;
export const createDrGrpoAdvantage = drGrpoAdvantage.create;
export const createBatchStdAdvantage = batchStdAdvantage.create;
export const createRlooAdvantage = rlooAdvantage.create;
