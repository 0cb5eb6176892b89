import { OptionsError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { createExactMatchReward } from './index';

describe('reward options are strict', () => {
  it('createExactMatchReward rejects an unknown key, naming it', () => {
    expect(() => createExactMatchReward({ trimm: true } as never)).toThrow(OptionsError);
    expect(() => createExactMatchReward({ trimm: true } as never)).toThrow(/trimm/);
  });
});
