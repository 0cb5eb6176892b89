import { defineComponent, Registry, RftError } from '@rftkit/core';
import type { Metrics, Regularizer, Sampler } from '@rftkit/core';
import { samplerDefinitions } from '@rftkit/rollout';
import { z } from 'zod';
import { appendWeightedRows, drawTargetRows, replaceFirstRows, takeFirstRows } from './target-rows';

const isSampler = (v: unknown): v is Sampler =>
  typeof v === 'object' && v !== null && typeof (v as Sampler).sample === 'function' && typeof (v as Sampler).describe === 'function';

export const samplerRefSchema = z
  .strictObject({
    use: z.string().min(1).describe("Sampler id: tempered, truncated, mixture, reference, or a config's own sampler"),
    with: z.record(z.string(), z.unknown()).optional().describe("The sampler's options, validated by the sampler's schema"),
  })
  // A built-in sampler's own schema checks `with` here, so a config load (not only `create`)
  // reports its typos; a config's own sampler is checked by its registry entry when built.
  .superRefine((ref, ctx) => {
    const def = Array.isArray(samplerDefinitions) ? samplerDefinitions.find((d) => d.id === ref.use) : undefined;
    const result = def?.schema.safeParse(ref.with ?? {});
    if (!result || result.success) return;
    for (const issue of result.error.issues) ctx.addIssue({ ...issue, path: ['with', ...issue.path] } as never);
  });

export const targetReinforceSchema = z.strictObject({
  target: z
    .union([samplerRefSchema, z.custom<Sampler>(isSampler, { message: 'expected {use, with} or a Sampler object' })])
    .default({ use: 'tempered', with: { temperature: 1.2 } })
    .describe('The target distribution q: a sampler reference {use, with} or a Sampler object'),
  filter: z
    .enum(['positive', 'advantage'])
    .default('positive')
    .describe("'positive': keep responses with score > threshold; 'advantage': keep those whose group advantage (among the extra samples) > threshold"),
  threshold: z.number().default(0.05).describe('Threshold of the filter'),
  mode: z
    .enum(['additive', 'replace'])
    .default('additive')
    .describe("'additive': append kept rows weighted so the loss is L + α·L_target; 'replace': kept rows replace the batch's first rows"),
  alpha: z.number().min(0).default(1 / 64).describe('α: weight of the target term (additive mode)'),
  promptFraction: z.number().gt(0).max(1).default(0.25).describe("Fraction of the step's prompts (the first ones) that get extra samples"),
  samplesPerPrompt: z.number().int().positive().optional().describe("Extra responses per prompt (default: the run's samplesPerPrompt)"),
  maxSamples: z.number().int().positive().default(60).describe('At most this many kept rows are used per step'),
});
export type TargetReinforceOptions = z.input<typeof targetReinforceSchema>;

/** Resolves `{use, with}` through @rftkit/rollout's sampler definitions, or returns the Sampler given. */
export function resolveSampler(target: z.output<typeof targetReinforceSchema>['target']): Sampler {
  if (isSampler(target)) return target;
  if (!Array.isArray(samplerDefinitions)) {
    throw new RftError('E_CONFIG', `target '${target.use}': @rftkit/rollout provides no samplerDefinitions; pass a Sampler object as target`);
  }
  const registry = new Registry<Sampler>('sampler', samplerDefinitions);
  return registry.create(target.with ? { use: target.use, with: target.with } : target.use);
}

const ID = 'target-reinforce';

/**
 * REINFORCE toward a target distribution q restricted to rewarded answers:
 * gradient += α·E_{o~q}[1[o passes the filter]·∇log π_θ(o|q)]. AEPO is the case q = π^T.
 * When nothing passes the filter the term is skipped for the step (`target_reinforce/skipped` = 1).
 */
export const targetReinforceDefinition = defineComponent({
  id: ID,
  family: 'regularizer',
  description: 'REINFORCE on reward-filtered samples of a target distribution (tempered, truncated, mixture, reference policy)',
  schema: targetReinforceSchema,
  build: (options): Regularizer => {
    const sampler = resolveSampler(options.target);
    let last: Metrics = {};
    return {
      id: ID,
      async augmentBatch(batch, context) {
        const drawn = await drawTargetRows(batch, context, {
          sampler,
          promptFraction: options.promptFraction,
          samplesPerPrompt: options.samplesPerPrompt,
          filter: options.filter,
          threshold: options.threshold,
          stream: ID,
          source: `${ID}:${sampler.id}`,
        });
        const used = Math.min(drawn.keptCount, options.maxSamples, options.mode === 'replace' ? batch.rows : Number.POSITIVE_INFINITY);
        last = {
          'target_reinforce/samples_generated': drawn.generated,
          'target_reinforce/samples_kept': drawn.keptCount,
          'target_reinforce/samples_used': drawn.kept ? used : 0,
          'target_reinforce/skipped': drawn.kept && used > 0 ? 0 : 1,
          ...(Number.isFinite(drawn.rewardMean) ? { 'target_reinforce/reward_mean': drawn.rewardMean } : {}),
        };
        if (!drawn.kept || used === 0) return batch;
        const padId = context.policy.tokenizer.padId;
        if (options.mode === 'replace') return replaceFirstRows(batch, drawn.kept, used, padId);
        return appendWeightedRows(batch, takeFirstRows(drawn.kept, used), options.alpha, padId);
      },
      metrics: () => last,
    };
  },
});

export function createTargetReinforce(options?: TargetReinforceOptions): Regularizer {
  return targetReinforceDefinition.create(options);
}
