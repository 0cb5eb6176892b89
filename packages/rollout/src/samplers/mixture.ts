import {
  concatBatches,
  defineComponent,
  deriveSeed,
  Rng,
  type RolloutBatch,
  type RolloutEngine,
  type RolloutRequest,
  type Sampler,
  type SamplingParams,
  selectRows,
} from '@rftkit/core';
import { z } from 'zod';
import { isRowwiseEngine, type RowSampling } from '../engine';
import { fmt, samplerStream } from './stream';

export const mixtureSamplerSchema = z
  .strictObject({
    temperatures: z
      .array(z.number().positive())
      .min(1)
      .describe('Component temperatures T_i > 0 (required).'),
    weights: z
      .array(z.number().min(0))
      .optional()
      .describe('Mixture weights, one per temperature, summing to > 0 (normalised); absent = uniform.'),
    stream: z.string().min(1).default('mixture').describe('Seed stream label of this sampler.'),
  })
  .superRefine((o, ctx) => {
    if (!o.weights) return;
    if (o.weights.length !== o.temperatures.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['weights'],
        message: `must have one weight per temperature (${o.temperatures.length}), got ${o.weights.length}`,
      });
    } else if (!(o.weights.reduce((a, b) => a + b, 0) > 0)) {
      ctx.addIssue({ code: 'custom', path: ['weights'], message: 'must sum to a positive number' });
    }
  });

/**
 * Rows of `request` where each row uses `rowSampling(row)`. Uses the engine's per-row
 * decoding when it has one; otherwise runs one rollout per distinct setting and keeps
 * each row from the rollout of its own setting (same row seeds, more compute).
 */
export async function generateWithRowSampling(
  engine: RolloutEngine,
  request: Omit<RolloutRequest, 'sampling'>,
  rowSampling: RowSampling,
): Promise<RolloutBatch> {
  if (isRowwiseEngine(engine)) return engine.generateRows(request, rowSampling);
  const n = request.samplesPerPrompt;
  const stream = request.stream ?? 'main';
  const promptOffset = request.promptIndexOffset ?? 0;
  const choices: SamplingParams[] = [];
  const byKey = new Map<string, number[]>();
  for (let p = 0; p < request.prompts.length; p++) {
    for (let s = 0; s < n; s++) {
      const sampling = rowSampling({ prompt: p, sample: s, seed: deriveSeed(request.seed, stream, request.step, promptOffset + p, s) });
      const key = JSON.stringify(sampling);
      if (!byKey.has(key)) {
        byKey.set(key, []);
        choices.push(sampling);
      }
      byKey.get(key)!.push(p * n + s);
    }
  }
  if (choices.length === 0) return engine.generate({ ...request, sampling: rowSampling({ prompt: 0, sample: 0, seed: 0 }) });
  const parts: RolloutBatch[] = [];
  const order: number[] = [];
  for (const sampling of choices) {
    const rows = byKey.get(JSON.stringify(sampling))!;
    const full = await engine.generate({ ...request, sampling });
    parts.push(selectRows(full, rows));
    order.push(...rows);
  }
  const joined = concatBatches(parts, engine.policy.tokenizer.padId);
  // Back to row order p·n + s, with the request's prompts.
  const position = new Int32Array(order.length);
  order.forEach((row, i) => {
    position[row] = i;
  });
  const batch = selectRows(joined, position);
  return { ...batch, prompts: [...request.prompts], promptIndex: Int32Array.from({ length: order.length }, (_, r) => Math.floor(r / n)) };
}

/**
 * A mixture of tempered policies: each row draws its temperature T_i with probability
 * w_i from an RNG seeded by the row's own seed, then samples the policy at T_i
 * (untruncated). The row's `sampling.temperature` records the T_i it used.
 */
export const mixtureSampler = defineComponent({
  id: 'mixture',
  family: 'sampler',
  description: 'A mixture of tempered policies: each row draws its temperature from the mixture.',
  schema: mixtureSamplerSchema,
  build: (options): Sampler => {
    const { temperatures } = options;
    const raw = options.weights ?? temperatures.map(() => 1);
    const total = raw.reduce((a, b) => a + b, 0);
    const cdf: number[] = [];
    raw.reduce((acc, w) => {
      cdf.push((acc + w) / total);
      return acc + w;
    }, 0);
    const pick = (seed: number): number => {
      const u = Rng.derive(seed, 'mixture-temperature').float();
      const i = cdf.findIndex((c) => u < c);
      // Rounding can leave the last cdf entry a hair under 1: fall back to the last positive weight.
      return i >= 0 ? i : raw.findLastIndex((w) => w > 0);
    };
    return {
      id: 'mixture',
      describe: () =>
        `mixture of policy temperatures ${temperatures
          .map((t, i) => `T=${fmt(t)} (w ${fmt(raw[i]! / total)})`)
          .join(', ')}`,
      async sample(request, context) {
        const stream = samplerStream(request, options.stream);
        const settings = temperatures.map(
          (temperature): SamplingParams => ({ ...request.sampling, temperature, topK: 0, topP: 1, minP: 0 }),
        );
        const { sampling: _unused, ...rest } = request;
        return generateWithRowSampling(
          context.engine,
          { ...rest, stream, source: request.source ?? stream },
          (row) => settings[pick(row.seed)]!,
        );
      },
    };
  },
});

export function createMixtureSampler(options: z.input<typeof mixtureSamplerSchema>): Sampler {
  return mixtureSampler.create(options);
}
