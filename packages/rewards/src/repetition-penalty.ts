import { defineComponent } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { z } from 'zod';

export const repetitionPenaltySchema = z.strictObject({
  ngramSize: z.number().int().min(1).default(3).describe('n of the n-grams compared.'),
  unit: z
    .enum(['words', 'chars'])
    .default('words')
    .describe("'words': n-grams of whitespace-separated words (lower-cased); 'chars': of characters."),
  maxPenalty: z.number().max(0).default(-1).describe('Score of a completion that is all repeats (≤ 0).'),
});
export type RepetitionPenaltyOptions = z.input<typeof repetitionPenaltySchema>;

/** Fraction of n-grams that repeat an earlier one: 1 − distinct/total (0 when there are none). */
export function repeatedNgramFraction(units: readonly string[], n: number): number {
  const total = units.length - n + 1;
  if (total <= 0) return 0;
  const seen = new Set<string>();
  for (let i = 0; i < total; i++) seen.add(units.slice(i, i + n).join('\u0000'));
  return 1 - seen.size / total;
}

export const repetitionPenaltyDefinition = defineComponent({
  id: 'repetition-penalty',
  family: 'reward',
  description: 'maxPenalty × (1 − distinct n-grams / total n-grams) of the completion.',
  schema: repetitionPenaltySchema,
  build: (o): RewardFunction => ({
    id: 'repetition-penalty',
    score: (inputs) =>
      inputs.map(({ completion }) => {
        const units =
          o.unit === 'words' ? completion.toLowerCase().split(/\s+/).filter(Boolean) : [...completion];
        // `+ 0` turns −0 (no repeats) into 0.
        return repeatedNgramFraction(units, o.ngramSize) * o.maxPenalty + 0;
      }),
  }),
});

export const createRepetitionPenalty = (options?: RepetitionPenaltyOptions): RewardFunction =>
  repetitionPenaltyDefinition.create(options);
