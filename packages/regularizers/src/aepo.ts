import { defineComponent } from '@rftkit/core';
import type { JsonValue, Metrics, Regularizer, Sampler } from '@rftkit/core';
import { z } from 'zod';
import { appendWeightedRows, drawTargetRows, replaceFirstRows, takeFirstRows } from './target-rows';
import { chooseTemperature, controllerState, parseControllerState, readEntropy, temperatureRuleShape } from './temperature-rule';

export const aepoSchema = z.strictObject({
  ...temperatureRuleShape,
  mode: z
    .enum(['replace', 'additive'])
    .default('replace')
    .describe("'replace': kept tempered rows replace the batch's first rows (reference code); 'additive': appended with weight α (paper v7)"),
  alpha: z.number().min(0).default(1 / 64).describe('α of additive mode: loss = L_GRPO + α·L_tempered under token-mean aggregation'),
  filter: z
    .enum(['advantage', 'positive'])
    .optional()
    .describe("Which tempered responses are kept: 'advantage' (group advantage > threshold; default in replace mode) or 'positive' (score > threshold, i.e. 1[R=1] for binary rewards; default in additive mode)"),
  threshold: z.number().default(0.05).describe('Threshold of the filter (reference code: 0.05)'),
  promptFraction: z.number().gt(0).max(1).default(0.25).describe("Fraction of the step's prompts (the first ones) that get a tempered rollout"),
  samplesPerPrompt: z.number().int().positive().optional().describe("Tempered responses per prompt (default: the run's samplesPerPrompt)"),
  maxSamples: z.number().int().positive().default(60).describe('sample_num = min(maxSamples, kept)'),
  halveAboveTarget: z
    .boolean()
    .default(true)
    .describe('Replace mode: halve sample_num (integer division) when the reading is above target, as the reference code'),
});
export type AepoOptions = z.input<typeof aepoSchema>;

const ID = 'aepo';

/** The policy itself at temperature T, all other sampling settings of the run unchanged. */
function temperedSampler(temperature: number): Sampler {
  return {
    id: 'tempered',
    describe: () => `policy at T=${temperature}`,
    sample: (request, context) => context.engine.generate({ ...request, sampling: { ...request.sampling, temperature } }),
  };
}

/**
 * AEPO (arXiv 2510.08141): GRPO plus REINFORCE on reward-filtered responses of the
 * tempered policy π^T, where T follows the previous step's entropy reading against a
 * target: T > 1 pulls the policy flatter (entropy up), T < 1 sharper (entropy down).
 * Defaults reproduce the authors' reference code; see docs/components/regularizers.md.
 */
export const aepoDefinition = defineComponent({
  id: ID,
  family: 'regularizer',
  description: 'AEPO: REINFORCE on reward-filtered samples of the tempered policy, temperature steered toward a target entropy',
  schema: aepoSchema,
  build: (options): Regularizer => {
    const filter = options.filter ?? (options.mode === 'replace' ? 'advantage' : 'positive');
    let reading = options.initialReading;
    let lastStep = 0;
    let last: Metrics = {};
    return {
      id: ID,
      async augmentBatch(batch, context) {
        const temperature = chooseTemperature(reading, options);
        const above = reading > options.targetEntropy;
        const drawn = await drawTargetRows(batch, context, {
          sampler: temperedSampler(temperature),
          promptFraction: options.promptFraction,
          samplesPerPrompt: options.samplesPerPrompt,
          filter,
          threshold: options.threshold,
          stream: ID,
          source: `${ID}:T=${Number(temperature.toFixed(4))}`,
        });
        let used = Math.min(options.maxSamples, drawn.keptCount);
        if (options.mode === 'replace') {
          if (options.halveAboveTarget && above) used = Math.floor(used / 2);
          used = Math.min(used, batch.rows);
        }
        const skipped = !drawn.kept || used === 0;
        last = {
          'aepo/temperature': temperature,
          'aepo/entropy_reading': reading,
          'aepo/target': options.targetEntropy,
          'aepo/samples_generated': drawn.generated,
          'aepo/samples_kept': drawn.keptCount,
          'aepo/samples_used': skipped ? 0 : used,
          'aepo/skipped': skipped ? 1 : 0,
          ...(Number.isFinite(drawn.rewardMean) ? { 'aepo/reward_mean': drawn.rewardMean } : {}),
        };
        if (skipped || !drawn.kept) return batch;
        const padId = context.policy.tokenizer.padId;
        if (options.mode === 'replace') return replaceFirstRows(batch, drawn.kept, used, padId);
        return appendWeightedRows(batch, takeFirstRows(drawn.kept, used), options.alpha, padId);
      },
      afterUpdate(metrics, info) {
        reading = readEntropy(ID, metrics, options.estimator, options.readingRows);
        lastStep = info.step;
      },
      metrics: () => ({ ...last, 'aepo/next_temperature': chooseTemperature(reading, options) }),
      state: (): JsonValue => ({ ...controllerState(reading, lastStep) }),
      loadState(state) {
        const s = parseControllerState(ID, state);
        reading = s.reading;
        lastStep = s.step;
      },
    };
  },
});

export function createAepo(options?: AepoOptions): Regularizer {
  return aepoDefinition.create(options);
}
