import { defineComponent } from '@rftkit/core';
import type { RewardFunction, Task } from '@rftkit/core';
import { RewardError } from '@rftkit/rewards';
import { z } from 'zod';
import { generateDistinct, testFractionSchema } from './split';

export const sortDigitsSchema = z
  .strictObject({
    minLength: z.number().int().min(2).max(30).default(3).describe('Fewest digits in a prompt.'),
    maxLength: z.number().int().min(2).max(30).default(8).describe('Most digits in a prompt.'),
    descending: z.boolean().default(false).describe('Sort from largest to smallest digit.'),
    testFraction: testFractionSchema,
  })
  .refine((o) => o.minLength <= o.maxLength, { path: ['maxLength'], message: 'must be ≥ minLength' });
export type SortDigitsOptions = z.input<typeof sortDigitsSchema>;

export const SORT_DIGITS_ALPHABET = '0123456789:';

function sortDigits(digits: string, descending: boolean): string {
  const sorted = [...digits].sort();
  return (descending ? sorted.reverse() : sorted).join('');
}

export const sortDigitsDefinition = defineComponent({
  id: 'sort-digits',
  family: 'task',
  description: "Sort a string of digits: '53819:' → '13589' (exact match).",
  schema: sortDigitsSchema,
  build: (o): Task => {
    const answerOf = (prompt: string) => (/^\d+:$/.test(prompt) ? sortDigits(prompt.slice(0, -1), o.descending) : undefined);
    const reward: RewardFunction = {
      id: 'sort-digits',
      score: (inputs) =>
        inputs.map(({ prompt, completion }) => {
          const answer = answerOf(prompt.prompt);
          if (answer === undefined) throw new RewardError('sort-digits', `prompt '${prompt.id}' is not a sort-digits prompt ('53819:'): '${prompt.prompt}'`);
          return completion.trim() === answer ? 1 : 0;
        }),
    };
    return {
      id: 'sort-digits',
      description: `Sort ${o.minLength}–${o.maxLength} digits ${o.descending ? 'descending' : 'ascending'}.`,
      generate: (split, count, seed) =>
        generateDistinct({
          task: 'sort-digits',
          split,
          count,
          seed,
          testFraction: o.testFraction,
          draw: (rng) => {
            const n = o.minLength + rng.int(o.maxLength - o.minLength + 1);
            const digits = Array.from({ length: n }, () => rng.int(10)).join('');
            const prompt = `${digits}:`;
            return {
              splitKey: digits,
              propose: () => ({ key: digits, record: { id: `sort-digits:${digits}`, prompt, reference: answerOf(prompt)! } }),
            };
          },
        }),
      reward: () => reward,
      solve: (prompt) => answerOf(prompt.prompt),
      alphabet: () => SORT_DIGITS_ALPHABET,
    };
  },
});

export const createSortDigitsTask = (options?: SortDigitsOptions): Task => sortDigitsDefinition.create(options);
