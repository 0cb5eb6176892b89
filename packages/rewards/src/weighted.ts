import { type ComponentRef, Registry, defineComponent } from '@rftkit/core';
import type { RewardFunction, RewardInput, RewardValue } from '@rftkit/core';
import { z } from 'zod';
import { basicRewardDefinitions } from './builtins';
import { RewardError } from './errors';
import { readRewardValue } from './value';

const rewardFunctionSchema = z.custom<RewardFunction>(
  (v) => typeof v === 'object' && v !== null && typeof (v as RewardFunction).score === 'function',
  'a reward function (an object with id and score()) or a component reference { use, with }',
);
const refSchema = z.union([
  z.string().min(1),
  z.strictObject({ use: z.string().min(1), with: z.record(z.string(), z.unknown()).optional() }),
]);

export const weightedSchema = z
  .strictObject({
    terms: z
      .array(
        z.strictObject({
          name: z.string().min(1).describe('Component name, logged as reward/<name>.'),
          weight: z.number().finite().default(1).describe('Weight of this term in the sum.'),
          reward: z.union([rewardFunctionSchema, refSchema]).describe('A reward function or a reward id/reference.'),
        }),
      )
      .min(1)
      .describe('Terms of the weighted sum.'),
    registry: z
      .custom<Registry<RewardFunction>>((v) => v instanceof Registry, 'a reward Registry')
      .optional()
      .describe('Resolves reward ids in `terms` (default: the built-in rewards).'),
  })
  .superRefine((o, ctx) => {
    const seen = new Set<string>();
    o.terms.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: ['terms', i, 'name'], message: `duplicate term name '${t.name}'` });
      seen.add(t.name);
    });
  });
export type WeightedRewardOptions = z.input<typeof weightedSchema>;

export const weightedDefinition = defineComponent({
  id: 'weighted',
  family: 'reward',
  description: 'Weighted sum of rewards: score = Σ weight·term; each term logged as a component.',
  schema: weightedSchema,
  build: (o): RewardFunction => {
    const registry = o.registry ?? new Registry<RewardFunction>('reward', basicRewardDefinitions);
    const terms = o.terms.map((t) => ({
      name: t.name,
      weight: t.weight,
      reward:
        typeof t.reward === 'object' && 'score' in t.reward
          ? t.reward
          : registry.create(t.reward as ComponentRef | string),
    }));
    return {
      id: 'weighted',
      async score(inputs: RewardInput[]): Promise<RewardValue[]> {
        const perTerm = await Promise.all(terms.map((t) => t.reward.score(inputs)));
        return inputs.map((_, row) => {
          let score = 0;
          const components: Record<string, number> = {};
          terms.forEach((t, k) => {
            const values = perTerm[k]!;
            if (!Array.isArray(values) || values.length !== inputs.length) {
              throw new RewardError('weighted', `term '${t.name}' returned ${Array.isArray(values) ? values.length : 'no'} scores for ${inputs.length} inputs`);
            }
            const v = readRewardValue(values[row]);
            if (!v) throw new RewardError('weighted', `term '${t.name}' returned an invalid value for row ${row}`);
            score += t.weight * v.score;
            components[t.name] = v.score;
            for (const [sub, c] of Object.entries(v.components)) components[`${t.name}/${sub}`] = c;
          });
          return { score, components };
        });
      },
    };
  },
});

export const createWeightedReward = (options: WeightedRewardOptions): RewardFunction =>
  weightedDefinition.create(options);
