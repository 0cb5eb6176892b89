import { deriveSeed, OptionsError, Registry, RftError, Rng, type RolloutBatch, type RolloutEngine } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { createRolloutEngine } from '../engine';
import { logSoftmaxAt, samplingDistribution } from '../sampling';
import { chiSquareTest } from '@rftkit/test-kit';
import { bigram, forcedTable, prompts, sampling, softTable, V } from '../test-utils/fixtures';
import { createMixtureSampler, createReferenceSampler, createTemperedSampler, createTruncatedSampler, samplerDefinitions } from './index';

const table = softTable();
const request = (over = {}) => ({
  prompts: prompts('a', 'b', ''),
  samplesPerPrompt: 4,
  sampling: sampling({ temperature: 1, topP: 0.9, maxNewTokens: 6 }),
  seed: 21,
  step: 3,
  ...over,
});

/** Checks every response token's behaviour log-prob against the table at the row's recorded sampling. */
function expectLogpsFromTable(b: RolloutBatch, tbl: Float32Array) {
  const T = b.seqLen;
  for (let r = 0; r < b.rows; r++) {
    for (let t = 1; t < T; t++) {
      if (!b.responseMask[r * T + t]) continue;
      const prev = b.tokens[r * T + t - 1]!;
      const tok = b.tokens[r * T + t]!;
      const logits = tbl.subarray(prev * V, (prev + 1) * V);
      const q = samplingDistribution(logits, b.sampling[r]!);
      expectAllClose([b.behaviourLogp[r * T + t]!], [Math.log(q[tok]!)], { atol: 1e-5 });
      expectAllClose([b.logpT1[r * T + t]!], [logSoftmaxAt(logits, tok)], { atol: 1e-5 });
    }
  }
}

describeBackends('samplers', () => {
  const engine = createRolloutEngine({ policy: bigram(table) });
  const context = { engine };

  it('tempered: the policy at T untruncated, on its own seed stream', async () => {
    const sampler = createTemperedSampler({ temperature: 1.7 });
    expect(sampler.describe()).toBe('policy at T=1.7');
    const b = await expectNoLeaks(() => sampler.sample(request(), context));
    expect(b.sampling.every((s) => s.temperature === 1.7 && s.topP === 1 && s.topK === 0 && s.minP === 0)).toBe(true);
    expect(b.sampling[0]!.maxNewTokens).toBe(6);
    expect(b.seeds[5]).toBe(deriveSeed(21, 'tempered', 3, 1, 1));
    expect(b.source[0]).toBe('tempered:T=1.7');
    expectLogpsFromTable(b, table);
    const nested = await sampler.sample(request({ stream: 'aepo' }), context);
    expect(nested.seeds[5]).toBe(deriveSeed(21, 'aepo/tempered', 3, 1, 1));
    // Without its own temperature it follows the request's.
    const follow = await createTemperedSampler().sample(request({ sampling: sampling({ temperature: 0.6 }) }), context);
    expect(follow.sampling[0]!.temperature).toBe(0.6);
  });

  it('truncated: records top-k / top-p / min-p and samples the truncated distribution', async () => {
    const sampler = createTruncatedSampler({ temperature: 0.8, topK: 3, minP: 0.2 });
    expect(sampler.describe()).toBe('policy at T=0.8, top-k 3, top-p 0.95, min-p 0.2');
    const b = await expectNoLeaks(() => sampler.sample(request(), context));
    expect(b.sampling[0]).toMatchObject({ temperature: 0.8, topK: 3, topP: 0.95, minP: 0.2 });
    expect(b.seeds[0]).toBe(deriveSeed(21, 'truncated', 3, 0, 0));
    expectLogpsFromTable(b, table);
  });

  it('mixture: each row draws its temperature from its own seed; frequencies follow the weights', async () => {
    const temps = [0.5, 1, 2];
    const weights = [0.2, 0.3, 0.5];
    const sampler = createMixtureSampler({ temperatures: temps, weights });
    const many = request({ prompts: prompts(...new Array(150).fill('a')), samplesPerPrompt: 4, sampling: sampling({ maxNewTokens: 1 }) });
    const b = await expectNoLeaks(() => sampler.sample(many, context));
    const counts = [0, 0, 0];
    for (let r = 0; r < b.rows; r++) {
      const k = temps.indexOf(b.sampling[r]!.temperature);
      expect(k).toBeGreaterThanOrEqual(0);
      counts[k]! += 1;
      expect(b.seeds[r]).toBe(deriveSeed(21, 'mixture', 3, Math.floor(r / 4), r % 4));
      // The documented draw: u from the row's seed, first component whose cumulative weight exceeds u.
      const u = Rng.derive(b.seeds[r]!, 'mixture-temperature').float();
      expect(k).toBe(u < 0.2 ? 0 : u < 0.5 ? 1 : 2);
    }
    expect(chiSquareTest(counts, weights).p).toBeGreaterThan(1e-3);
    expectLogpsFromTable(b, table);
    expectLogpsFromTable(await sampler.sample(request(), context), table);
  });

  it('mixture gives the same rows through an engine without per-row sampling', async () => {
    const plain: RolloutEngine = { id: 'plain', policy: engine.policy, generate: (r) => engine.generate(r) };
    const sampler = createMixtureSampler({ temperatures: [0.5, 3] });
    const a = await sampler.sample(request(), context);
    const b = await sampler.sample(request(), { engine: plain });
    expect(b.sampling.map((s) => s.temperature)).toEqual(a.sampling.map((s) => s.temperature));
    expect(new Set(a.sampling.map((s) => s.temperature)).size).toBe(2);
    expect(b.responses).toEqual(a.responses);
    expect([...b.promptIndex]).toEqual([...a.promptIndex]);
    expect([...b.groupIds]).toEqual([...a.groupIds]);
    expect([...b.seeds]).toEqual([...a.seeds]);
    expect(b.prompts).toEqual(a.prompts);
    // Rows agree token for token once the padding to the batch length is removed.
    for (let r = 0; r < a.rows; r++) {
      const pick = (x: RolloutBatch) => [...x.tokens.subarray(r * x.seqLen, (r + 1) * x.seqLen)].filter((_, t) => x.attentionMask[r * x.seqLen + t]);
      expect(pick(b)).toEqual(pick(a));
    }
  });

  it('reference: samples the reference engine, and fails clearly without one', async () => {
    const sampler = createReferenceSampler();
    await expect(sampler.sample(request(), context)).rejects.toThrow(RftError);
    await expect(sampler.sample(request(), context)).rejects.toThrow(/needs a reference policy/);
    const refEngine = createRolloutEngine({ policy: bigram(forcedTable()) });
    const b = await sampler.sample(request(), { engine, referenceEngine: refEngine });
    expect(b.responses.slice(0, 4)).toEqual(['b', 'b', 'b', 'b']);
    expect(b.responses.slice(8)).toEqual(['ab', 'ab', 'ab', 'ab']);
    expect(b.seeds[0]).toBe(deriveSeed(21, 'reference', 3, 0, 0));
    expect(b.sampling[0]!.topP).toBe(0.9);
  });
});

describe('samplerDefinitions', () => {
  it('registers tempered, truncated, mixture and reference in the sampler family', () => {
    const registry = new Registry('sampler', samplerDefinitions);
    expect(registry.ids()).toEqual(['mixture', 'reference', 'tempered', 'truncated']);
    expect(registry.create({ use: 'tempered', with: { temperature: 1.2 } })).toMatchObject({ id: 'tempered' });
  });
  it('rejects bad options naming the field', () => {
    expect(() => createTemperedSampler({ temperature: 0 })).toThrow(OptionsError);
    expect(() => createTruncatedSampler({ topP: 1.5 })).toThrow(/topP/);
    expect(() => createMixtureSampler({ temperatures: [] })).toThrow(/temperatures/);
    expect(() => createMixtureSampler({ temperatures: [1, 2], weights: [1] })).toThrow(/weights: must have one weight per temperature/);
    expect(() => createMixtureSampler({ temperatures: [1, 2], weights: [0, 0] })).toThrow(/weights: must sum/);
  });
});
