import { OptionsError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { samplerDefinitions } from './index';

describe('sampler options are strict', () => {
  it.each(samplerDefinitions.map((d) => [d.id, d] as const))('%s rejects an unknown key, naming it', (_id, def) => {
    expect(() => def.create({ temperatures: [1], temprature: 1 } as never)).toThrow(OptionsError);
    expect(() => def.create({ temperatures: [1], temprature: 1 } as never)).toThrow(/temprature/);
  });
});
