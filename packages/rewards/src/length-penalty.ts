import { defineComponent } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { z } from 'zod';
import { type RewardInputWithLength, lengthUnitSchema, responseLength } from './length';

export const lengthPenaltySchema = z.strictObject({
  target: z.number().int().min(0).default(0).describe('Lengths up to this are not penalised.'),
  coefficient: z.number().min(0).default(0.01).describe('Penalty per unit of length beyond `target`.'),
  maxPenalty: z.number().positive().default(1).describe('The penalty is capped at −maxPenalty.'),
  unit: lengthUnitSchema,
});
export type LengthPenaltyOptions = z.input<typeof lengthPenaltySchema>;

export const lengthPenaltyDefinition = defineComponent({
  id: 'length-penalty',
  family: 'reward',
  description: 'Linear length penalty: −min(maxPenalty, coefficient · max(0, length − target)).',
  schema: lengthPenaltySchema,
  build: (o): RewardFunction => ({
    id: 'length-penalty',
    score: (inputs) =>
      inputs.map((input) => {
        const excess = Math.max(0, responseLength(input as RewardInputWithLength, o.unit) - o.target);
        return -Math.min(o.maxPenalty, o.coefficient * excess) + 0; // no −0
      }),
  }),
});

export const createLengthPenalty = (options?: LengthPenaltyOptions): RewardFunction =>
  lengthPenaltyDefinition.create(options);
