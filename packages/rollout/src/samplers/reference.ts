import { defineComponent, RftError, type Sampler } from '@rftkit/core';
import { z } from 'zod';
import { fmt, samplerStream } from './stream';

export const referenceSamplerSchema = z.strictObject({
  temperature: z
    .number()
    .positive()
    .optional()
    .describe("Temperature of the reference policy; absent = the request's temperature."),
  stream: z.string().min(1).default('reference').describe('Seed stream label of this sampler.'),
});

/** The frozen reference policy (`context.referenceEngine`) with the request's truncation. */
export const referenceSampler = defineComponent({
  id: 'reference',
  family: 'sampler',
  description: "The frozen reference policy, sampled with the request's settings (optionally at its own T).",
  schema: referenceSamplerSchema,
  build: (options): Sampler => ({
    id: 'reference',
    describe: () =>
      options.temperature === undefined ? 'reference policy' : `reference policy at T=${fmt(options.temperature)}`,
    async sample(request, context) {
      const engine = context.referenceEngine;
      if (!engine) {
        throw new RftError(
          'E_CONFIG',
          "sampler 'reference' needs a reference policy, but this run has none: configure a reference policy or choose another sampler",
        );
      }
      const temperature = options.temperature ?? request.sampling.temperature;
      const stream = samplerStream(request, options.stream);
      return engine.generate({
        ...request,
        sampling: { ...request.sampling, temperature },
        stream,
        source: request.source ?? `${stream}:T=${fmt(temperature)}`,
      });
    },
  }),
});

export function createReferenceSampler(options?: z.input<typeof referenceSamplerSchema>): Sampler {
  return referenceSampler.create(options);
}
