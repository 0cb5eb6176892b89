import { OptionsError, Registry } from '@rftkit/core';
import { selectBackend } from '@rftkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { policyDefinitions } from './definitions';

describe('policyDefinitions', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('has one transformer policy built from sizes and an alphabet', () => {
    expect(policyDefinitions.map((d) => [d.id, d.family])).toEqual([['transformer', 'policy']]);
    const policy = policyDefinitions[0]!.create({ alphabet: 'xyz', dModel: 8, nHeads: 2, nLayers: 1 }) as {
      tokenizer: { vocabSize: number };
      config(): Record<string, unknown>;
      dispose(): void;
    };
    expect(policy.tokenizer.vocabSize).toBe(6);
    expect(policy.config()).toMatchObject({ dModel: 8, nHeads: 2, nLayers: 1, dFF: 32, maxSeqLen: 64, positions: 'learned' });
    policy.dispose();
  });

  it('names the component and the field on bad options', () => {
    expect(() => policyDefinitions[0]!.create({ dModel: 8 })).toThrow(OptionsError);
    expect(() => policyDefinitions[0]!.create({ dModel: 8 })).toThrow(/policy:transformer[\s\S]*alphabet/);
    expect(() => policyDefinitions[0]!.create({ alphabet: 'a', maxSeqLen: 1 })).toThrow(/maxSeqLen/);
  });

  it('builds from a config reference through a registry', () => {
    const registry = new Registry('policy', policyDefinitions);
    const policy = registry.create({ use: 'transformer', with: { alphabet: 'ab', dModel: 8, nHeads: 2, positions: 'rotary' } }) as {
      config(): Record<string, unknown>;
      dispose(): void;
    };
    expect(policy.config().positions).toBe('rotary');
    policy.dispose();
  });
});
