import { defineComponent, type Sampler } from '@rftkit/core';
import { z } from 'zod';
import { samplingSchema } from '../sampling';
import { fmt, samplerStream } from './stream';

export const truncatedSamplerSchema = z.strictObject({
  temperature: z
    .number()
    .positive()
    .optional()
    .describe("Temperature applied before truncation; absent = the request's temperature."),
  topK: samplingSchema.shape.topK,
  topP: samplingSchema.shape.topP.unwrap().default(0.95).describe('Nucleus mass p; 1 = off. Default 0.95.'),
  minP: samplingSchema.shape.minP,
  stream: z.string().min(1).default('truncated').describe('Seed stream label of this sampler.'),
});

/** The policy at T with top-k, top-p and min-p truncation (in that order), renormalised. */
export const truncatedSampler = defineComponent({
  id: 'truncated',
  family: 'sampler',
  description: 'The policy at temperature T truncated by top-k / top-p / min-p (default top-p 0.95).',
  schema: truncatedSamplerSchema,
  build: (options): Sampler => {
    const { topK, topP, minP } = options;
    const parts = [topK > 0 ? `top-k ${topK}` : '', topP < 1 ? `top-p ${fmt(topP)}` : '', minP > 0 ? `min-p ${fmt(minP)}` : '']
      .filter(Boolean)
      .join(', ');
    return {
      id: 'truncated',
      describe: () =>
        `policy at ${options.temperature === undefined ? 'the request temperature' : `T=${fmt(options.temperature)}`}` +
        (parts ? `, ${parts}` : ', untruncated'),
      async sample(request, context) {
        const temperature = options.temperature ?? request.sampling.temperature;
        const stream = samplerStream(request, options.stream);
        return context.engine.generate({
          ...request,
          sampling: { ...request.sampling, temperature, topK, topP, minP },
          stream,
          source: request.source ?? `${stream}:T=${fmt(temperature)}`,
        });
      },
    };
  },
});

export function createTruncatedSampler(options?: z.input<typeof truncatedSamplerSchema>): Sampler {
  return truncatedSampler.create(options);
}
