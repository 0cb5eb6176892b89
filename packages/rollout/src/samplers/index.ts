import type { ComponentDefinition } from '@rftkit/core';
import { mixtureSampler } from './mixture';
import { referenceSampler } from './reference';
import { temperedSampler } from './tempered';
import { truncatedSampler } from './truncated';

export { createMixtureSampler, generateWithRowSampling, mixtureSampler, mixtureSamplerSchema } from './mixture';
export { createReferenceSampler, referenceSampler, referenceSamplerSchema } from './reference';
export { createTemperedSampler, temperedSampler, temperedSamplerSchema } from './tempered';
export { createTruncatedSampler, truncatedSampler, truncatedSamplerSchema } from './truncated';

/** The sampler family (targets of REINFORCE-style regularizers), for the runner's registry. */
export const samplerDefinitions: ComponentDefinition[] = [temperedSampler, truncatedSampler, mixtureSampler, referenceSampler];
