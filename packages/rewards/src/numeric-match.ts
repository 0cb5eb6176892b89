import { defineComponent } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { z } from 'zod';
import { RewardError, referenceOf } from './errors';
import { Rational } from './rational';

export const numericMatchSchema = z.strictObject({
  extract: z
    .enum(['last', 'whole'])
    .default('last')
    .describe("'last': the last number in the completion; 'whole': the whole trimmed completion must be a number."),
  absTolerance: z.number().min(0).default(0).describe('Accept |answer − reference| ≤ absTolerance.'),
  relTolerance: z.number().min(0).default(0).describe('Accept |answer − reference| ≤ relTolerance·|reference|.'),
});
export type NumericMatchOptions = z.input<typeof numericMatchSchema>;

const NUMBER = /[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Exact value of a number literal (`-1,234.50`, `1e3`); undefined if `text` is not one. */
export function parseNumber(text: string): Rational | undefined {
  const t = text.trim();
  if (!/\d/.test(t)) return undefined;
  return Rational.parseDecimal(/^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(t) ? t.replace(/,/g, '') : t);
}

/** The last number literal in `text`, undefined when there is none. */
export function extractLastNumber(text: string): Rational | undefined {
  const found = [...text.matchAll(NUMBER)].map((m) => m[0]).filter((m) => /\d/.test(m));
  const last = found.at(-1);
  return last === undefined ? undefined : parseNumber(last);
}

export const numericMatchDefinition = defineComponent({
  id: 'numeric-match',
  family: 'reward',
  description: 'Number in the completion equals the reference number (exact, or within a tolerance).',
  schema: numericMatchSchema,
  build: (o): RewardFunction => ({
    id: 'numeric-match',
    score: (inputs) =>
      inputs.map((input) => {
        const refText = referenceOf(input, 'numeric-match');
        const ref = parseNumber(refText);
        if (!ref) throw new RewardError('numeric-match', `reference '${refText}' of prompt '${input.prompt.id}' is not a number`);
        const got = o.extract === 'last' ? extractLastNumber(input.completion) : parseNumber(input.completion);
        if (!got) return 0;
        if (got.equals(ref)) return 1;
        const diff = Math.abs(got.toNumber() - ref.toNumber());
        return diff <= o.absTolerance || diff <= o.relTolerance * Math.abs(ref.toNumber()) ? 1 : 0;
      }),
  }),
});

export const createNumericMatchReward = (options?: NumericMatchOptions): RewardFunction =>
  numericMatchDefinition.create(options);
