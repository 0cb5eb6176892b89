import type { RewardValue } from '@rftkit/core';

/** Splits a reward value into score and components; undefined when it is not a valid value. */
export function readRewardValue(value: unknown): { score: number; components: Record<string, number> } | undefined {
  if (typeof value === 'number') return { score: value, components: {} };
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Exclude<RewardValue, number>;
  if (typeof v.score !== 'number') return undefined;
  const components: Record<string, number> = {};
  for (const [k, c] of Object.entries(v.components ?? {})) {
    if (typeof c !== 'number') return undefined;
    components[k] = c;
  }
  return { score: v.score, components };
}
