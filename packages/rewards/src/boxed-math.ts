import { defineComponent } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { z } from 'zod';
import { referenceOf } from './errors';
import { extractBoxed, mathAnswersEqual } from './math-answer';

export const boxedMathSchema = z.strictObject({
  requireBoxed: z
    .boolean()
    .default(true)
    .describe('Score 0 when the completion has no \\boxed{}; when false the whole completion is the answer.'),
  tolerance: z
    .number()
    .min(0)
    .default(0)
    .describe('Relative tolerance (to max(1,|reference|)) for numeric answers; 0 = exact rational equality.'),
});
export type BoxedMathOptions = z.input<typeof boxedMathSchema>;

export const boxedMathDefinition = defineComponent({
  id: 'boxed-math',
  family: 'reward',
  description: 'Last \\boxed{} answer equals the reference after math normalisation (numeric when both parse).',
  schema: boxedMathSchema,
  build: (o): RewardFunction => ({
    id: 'boxed-math',
    score: (inputs) =>
      inputs.map((input) => {
        const refText = referenceOf(input, 'boxed-math');
        const reference = extractBoxed(refText) ?? refText;
        const answer = extractBoxed(input.completion) ?? (o.requireBoxed ? undefined : input.completion);
        return answer !== undefined && mathAnswersEqual(answer, reference, o.tolerance) ? 1 : 0;
      }),
  }),
});

export const createBoxedMathReward = (options?: BoxedMathOptions): RewardFunction =>
  boxedMathDefinition.create(options);
