import { OptionsError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { regularizerDefinitions } from './index';

describe('regularizer options are strict', () => {
  it.each(regularizerDefinitions.map((d) => [d.id, d] as const))('%s rejects an unknown key, naming it', (_id, def) => {
    expect(() => def.create({ targetEntropie: 0.5 } as never)).toThrow(OptionsError);
    expect(() => def.create({ targetEntropie: 0.5 } as never)).toThrow(/targetEntropie/);
  });

  it('a nested sampler typo names the key', () => {
    const def = regularizerDefinitions.find((d) => d.id === 'target-reinforce')!;
    expect(() => def.create({ target: { use: 'mixture', with: { temperatures: [1], weigths: [1] } } } as never)).toThrow(/weigths/);
  });
});
