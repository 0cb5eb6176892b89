import { defineComponent } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { z } from 'zod';
import { referenceOf } from './errors';

export const exactMatchSchema = z.strictObject({
  trim: z.boolean().default(true).describe('Ignore leading/trailing whitespace.'),
  collapseWhitespace: z.boolean().default(true).describe('Treat any run of whitespace as one space.'),
  caseSensitive: z.boolean().default(true).describe('Compare letter case.'),
  score: z.number().default(1).describe('Score of a match.'),
  mismatchScore: z.number().default(0).describe('Score of anything else.'),
});
export type ExactMatchOptions = z.input<typeof exactMatchSchema>;

/** Applies the exact-match normalisation options to a string. */
export function normalizeText(text: string, options: z.output<typeof exactMatchSchema>): string {
  let s = text;
  if (options.collapseWhitespace) s = s.replace(/\s+/g, ' ');
  if (options.trim) s = s.trim();
  if (!options.caseSensitive) s = s.toLowerCase();
  return s;
}

export const exactMatchDefinition = defineComponent({
  id: 'exact-match',
  family: 'reward',
  description: 'Completion equals the reference answer (optional whitespace/case normalisation).',
  schema: exactMatchSchema,
  build: (o): RewardFunction => ({
    id: 'exact-match',
    score: (inputs) =>
      inputs.map((input) =>
        normalizeText(input.completion, o) === normalizeText(referenceOf(input, 'exact-match'), o)
          ? o.score
          : o.mismatchScore,
      ),
  }),
});

export const createExactMatchReward = (options?: ExactMatchOptions): RewardFunction =>
  exactMatchDefinition.create(options);
