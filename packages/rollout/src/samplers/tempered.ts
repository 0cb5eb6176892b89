import { defineComponent, type Sampler } from '@rftkit/core';
import { z } from 'zod';
import { fmt, samplerStream } from './stream';

export const temperedSamplerSchema = z.strictObject({
  temperature: z
    .number()
    .positive()
    .optional()
    .describe("Sampling temperature T > 0; absent = the request's temperature (a controller can vary it per call)."),
  stream: z.string().min(1).default('tempered').describe('Seed stream label of this sampler.'),
});

/** The policy at temperature T, untruncated: π^T ∝ exp(logits / T). */
export const temperedSampler = defineComponent({
  id: 'tempered',
  family: 'sampler',
  description: 'The policy at temperature T, without truncation.',
  schema: temperedSamplerSchema,
  build: (options): Sampler => ({
    id: 'tempered',
    describe: () => (options.temperature === undefined ? 'policy at the request temperature' : `policy at T=${fmt(options.temperature)}`),
    async sample(request, context) {
      const temperature = options.temperature ?? request.sampling.temperature;
      const stream = samplerStream(request, options.stream);
      return context.engine.generate({
        ...request,
        sampling: { ...request.sampling, temperature, topK: 0, topP: 1, minP: 0 },
        stream,
        source: request.source ?? `${stream}:T=${fmt(temperature)}`,
      });
    },
  }),
});

export function createTemperedSampler(options?: z.input<typeof temperedSamplerSchema>): Sampler {
  return temperedSampler.create(options);
}
