import { defineComponent } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { z } from 'zod';
import { type RewardInputWithLength, lengthUnitSchema, responseLength } from './length';

export const overlongPenaltySchema = z
  .strictObject({
    maxLength: z.number().int().positive().describe('L_max: length at which the penalty reaches −1 (required).'),
    buffer: z.number().int().positive().describe('L_cache: width of the linear ramp before L_max (required).'),
    unit: lengthUnitSchema,
  })
  .refine((o) => o.buffer <= o.maxLength, { path: ['buffer'], message: 'must be ≤ maxLength' });
export type OverlongPenaltyOptions = z.input<typeof overlongPenaltySchema>;

/** DAPO soft overlong punishment of a length `len`. */
export function overlongPenalty(len: number, maxLength: number, buffer: number): number {
  const start = maxLength - buffer;
  if (len <= start) return 0;
  if (len <= maxLength) return (start - len) / buffer;
  return -1;
}

export const overlongPenaltyDefinition = defineComponent({
  id: 'overlong-penalty',
  family: 'reward',
  description: 'DAPO soft overlong penalty: 0 up to L_max − buffer, linear to −1 at L_max, −1 beyond.',
  schema: overlongPenaltySchema,
  build: (o): RewardFunction => ({
    id: 'overlong-penalty',
    score: (inputs) =>
      inputs.map((input) => overlongPenalty(responseLength(input as RewardInputWithLength, o.unit), o.maxLength, o.buffer)),
  }),
});

export const createOverlongPenalty = (options: OverlongPenaltyOptions): RewardFunction =>
  overlongPenaltyDefinition.create(options);
