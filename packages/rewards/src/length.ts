import type { RewardInput } from '@rftkit/core';
import { z } from 'zod';

/**
 * What `scoreBatch` passes to rewards: the core `RewardInput` plus the response length in
 * tokens (response-mask tokens, eos included), so length rewards can count tokens.
 */
export interface RewardInputWithLength extends RewardInput {
  responseTokens?: number;
}

export const lengthUnitSchema = z
  .enum(['tokens', 'chars'])
  .default('tokens')
  .describe(
    "'tokens': response tokens as counted by scoreBatch (falls back to characters when a caller gives none); 'chars': characters of the decoded completion.",
  );

/** Length of a response in the chosen unit. */
export function responseLength(input: RewardInputWithLength, unit: 'tokens' | 'chars'): number {
  if (unit === 'tokens' && typeof input.responseTokens === 'number') return input.responseTokens;
  return [...input.completion].length;
}
