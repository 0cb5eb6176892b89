import { ConfigError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { parseTrainerConfig } from './trainer';

function issues(input: unknown) {
  try {
    parseTrainerConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('trainer config', () => {
  it('rejects unknown keys at every level, naming the path and the allowed names', () => {
    expect(issues({ promptsPerStp: 8 })).toEqual([
      { path: 'promptsPerStp', message: expect.stringMatching(/unknown field; allowed: steps, seed, promptsPerStep, samplesPerPrompt/) },
    ]);
    expect(issues({ optimizer: { lrr: 1e-3 } })).toEqual([{ path: 'optimizer.lrr', message: expect.stringMatching(/allowed: name, lr, beta1/) }]);
    expect(issues({ sampling: { temprature: 0.7 } })).toEqual([
      { path: 'sampling.temprature', message: expect.stringMatching(/allowed: temperature, topK, topP/) },
    ]);
    expect(issues({ eval: { sampling: { topk: 2 } }, checkpointEvry: 1 }).map((i) => i.path).sort()).toEqual([
      'checkpointEvry',
      'eval.sampling.topk',
    ]);
    const message = (() => {
      try {
        parseTrainerConfig({ optimizer: { lrr: 1 } });
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(message).toMatch(/optimizer\.lrr: unknown field; allowed: .*warmupSteps/);
  });

  it('accepts the documented defaults and a full config', () => {
    const c = parseTrainerConfig({});
    expect(c.promptsPerStep * c.samplesPerPrompt).toBeGreaterThanOrEqual(c.miniBatchSamples);
    expect(parseTrainerConfig({ promptsPerStep: 16, samplesPerPrompt: 8, miniBatchSamples: 64, microBatchSamples: 64 }).miniBatchSamples).toBe(64);
  });

  it('micro-batch larger than the mini-batch is an error naming both fields', () => {
    const [issue] = issues({ miniBatchSamples: 16, microBatchSamples: 32 });
    expect(issue!.path).toBe('microBatchSamples');
    expect(issue!.message).toMatch(/32 is larger than miniBatchSamples \(16\)/);
  });

  it('mini-batch larger than the rows of a step is an error naming promptsPerStep × samplesPerPrompt', () => {
    const [issue] = issues({ promptsPerStep: 2, samplesPerPrompt: 4, miniBatchSamples: 16, microBatchSamples: 8 });
    expect(issue!.path).toBe('miniBatchSamples');
    expect(issue!.message).toMatch(/promptsPerStep × samplesPerPrompt = 2 × 4 = 8/);
  });

  it('pass@k with k above eval.samplesPerPrompt is an error at eval.k[i]', () => {
    const out = issues({ eval: { samplesPerPrompt: 4, k: [1, 4, 8] } });
    expect(out).toEqual([{ path: 'eval.k[2]', message: expect.stringMatching(/pass@8 .* eval\.samplesPerPrompt is 4/) }]);
  });
});
