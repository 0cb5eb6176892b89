import { selectBackend } from '@rftkit/tensor';
import { isRftError, StateError } from '@rftkit/core';
import { describeBackends, expectNoLeaks } from '@rftkit/tensor/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AepoOptions, createAepo } from './aepo';
import { chooseTemperature, entropyMetricKey } from './temperature-rule';
import {
  augmentContext,
  createTabularEngine,
  defaultSampling,
  grpo,
  mainBatch,
  makePrompts,
  scoreRows,
  type Setup,
  TabularPolicy,
  updateStep,
} from '@rftkit/test-kit';

// f is the only wrong letter and rare, so groups are mostly all-correct at T=1.
const THETA = [1.5, 1, 0.5, 0, -0.5, -1.5];

function setup(seed: number, correct = 'abcde', prompts = 16, n = 8): Setup {
  const policy = new TabularPolicy(THETA);
  return { policy, engine: createTabularEngine(policy), prompts: makePrompts(prompts, correct), samplesPerPrompt: n, seed, step: 1 };
}

/** Entropy change of one update on the main batch, after AEPO's augmentation when given. */
async function entropyChange(
  seed: number,
  options?: AepoOptions,
  correct = 'abcde',
): Promise<{ delta: number; used: number; temperature: number }> {
  const s = setup(seed, correct);
  const batch = await mainBatch(s);
  const before = s.policy.entropy();
  let used = 0;
  let temperature = 1;
  let train = batch;
  if (options) {
    const aepo = createAepo(options);
    train = await aepo.augmentBatch!(batch, augmentContext(s));
    used = aepo.metrics!()['aepo/samples_used']!;
    temperature = aepo.metrics!()['aepo/temperature']!;
  }
  updateStep(s.policy, train, [], { learningRate: 0.5 });
  const delta = s.policy.entropy() - before;
  s.policy.dispose();
  return { delta, used, temperature };
}

describeBackends('aepo mechanism', () => {
  // A strong term (tempered rows replace most of the batch) so one step shows its sign.
  const strong = { promptFraction: 1, maxSamples: 128, temperatureHigh: 2, temperatureLow: 0.5, halveAboveTarget: false } as const;

  it.each([1, 2, 3, 4])('seed %i: T>1 raises entropy, T<1 lowers it, GRPO alone lowers it', async (seed) => {
    const grpoOnly = await entropyChange(seed);
    // reading 0 ≤ target → T_high; reading 5 > target → T_low.
    const high = await entropyChange(seed, { ...strong, filter: 'positive', initialReading: 0 });
    const low = await entropyChange(seed, { ...strong, filter: 'positive', initialReading: 5 });
    expect(grpoOnly.delta).toBeLessThan(0);
    expect(high.temperature).toBe(2);
    expect(high.used).toBeGreaterThan(100);
    expect(high.delta).toBeGreaterThan(0);
    expect(low.temperature).toBe(0.5);
    expect(low.delta).toBeLessThan(0);
    expect(low.delta).toBeLessThan(grpoOnly.delta);
  });

  it('with the reference filter (group advantage > 0.05) T>1 still raises entropy', async () => {
    for (const seed of [1, 3, 4]) {
      const r = await entropyChange(seed, { ...strong, samplesPerPrompt: 16, initialReading: 0 });
      expect(r.used).toBeGreaterThan(0);
      expect(r.delta).toBeGreaterThan(0);
    }
  });

  // The reward filter makes the pull go toward π^T restricted to correct answers, not toward
  // π^T. When the correct answers are a minority of π^T's mass and the policy's mode is one of
  // them (countdown from the base: ~12% correct), that restriction is sharper than π, so even
  // T>1 lowers entropy; only without the filter does the term flatten π.
  it('when only the mode is correct, the filtered T>1 term lowers entropy; unfiltered it raises it', async () => {
    for (const seed of [1, 2, 3]) {
      const filtered = await entropyChange(seed, { ...strong, filter: 'positive', initialReading: 0 }, 'a');
      const unfiltered = await entropyChange(seed, { ...strong, filter: 'positive', threshold: -1, initialReading: 0 }, 'a');
      expect(filtered.temperature).toBe(2);
      expect(filtered.used).toBeGreaterThan(0);
      expect(filtered.used).toBeLessThan(unfiltered.used);
      expect(unfiltered.used).toBe(128);
      expect(filtered.delta).toBeLessThan(0);
      expect(unfiltered.delta).toBeGreaterThan(0);
    }
  });

  it('augmentBatch leaks no tensors', async () => {
    const s = setup(1);
    const batch = await mainBatch(s);
    await expectNoLeaks(() => createAepo().augmentBatch!(batch, augmentContext(s)));
    s.policy.dispose();
  });
});

/** The tempered rollout AEPO must have drawn, recomputed independently. */
async function expectedTempered(s: Setup, temperature: number, prompts: number, groupIdOffset: number) {
  const rollout = await s.engine.generate({
    prompts: s.prompts.slice(0, prompts),
    samplesPerPrompt: s.samplesPerPrompt,
    sampling: { ...defaultSampling, temperature },
    seed: s.seed,
    step: s.step,
    stream: 'aepo',
    groupIdOffset,
  });
  const scored = await scoreRows(rollout);
  const adv = grpo.compute({ ...scored }).sequenceAdvantages!;
  const kept = [...adv.keys()].filter((r) => adv[r]! > 0.05);
  return { scored, kept };
}

describe('aepo batch composition', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('replace mode: batch size unchanged; the first rows are exactly the kept tempered rows, advantage 1', async () => {
    // Correct = abc: wrong answers are common, many mixed groups.
    const s = setup(7, 'abc', 16, 8);
    const batch = await mainBatch(s);
    const aepo = createAepo({ maxSamples: 5 });
    const out = await aepo.augmentBatch!(batch, augmentContext(s));
    const m = aepo.metrics!();
    const { scored, kept } = await expectedTempered(s, 1.2, 4, 16);
    expect(m['aepo/temperature']).toBe(1.2);
    expect(m['aepo/samples_generated']).toBe(32);
    expect(m['aepo/samples_kept']).toBe(kept.length);
    expect(kept.length).toBeGreaterThan(5);
    const used = Math.min(5, kept.length); // reading 0 ≤ target: no halving
    expect(m['aepo/samples_used']).toBe(used);
    expect(m['aepo/skipped']).toBe(0);
    expect(out.rows).toBe(batch.rows);
    expect(out.rowWeights).toBeUndefined();
    for (let i = 0; i < used; i++) {
      const r = kept[i]!;
      expect(out.tokens[i * 2 + 1]).toBe(scored.tokens[r * 2 + 1]);
      expect(out.source[i]).toBe('aepo:T=1.2');
      expect(out.scores[i]).toBe(1);
      expect(Array.from(out.advantages.subarray(i * 2, i * 2 + 2))).toEqual([0, 1]);
    }
    for (let i = used; i < batch.rows; i++) {
      expect(out.tokens[i * 2 + 1]).toBe(batch.tokens[i * 2 + 1]);
      expect(out.advantages[i * 2 + 1]).toBe(batch.advantages[i * 2 + 1]);
      expect(out.source[i]).toBe('main');
    }
    // Reward metrics of the main batch are left alone: AEPO only logs aepo/*.
    expect(Object.keys(m).every((k) => k.startsWith('aepo/'))).toBe(true);
    s.policy.dispose();
  });

  it('replace mode halves sample_num (integer) when the reading is above target', async () => {
    const s = setup(7, 'abc', 16, 8);
    const batch = await mainBatch(s);
    const aepo = createAepo({ maxSamples: 5, initialReading: 2 });
    const out = await aepo.augmentBatch!(batch, augmentContext(s));
    expect(aepo.metrics!()['aepo/temperature']).toBe(0.8);
    const { kept } = await expectedTempered(s, 0.8, 4, 16);
    expect(aepo.metrics!()['aepo/samples_used']).toBe(Math.floor(Math.min(5, kept.length) / 2));
    expect(out.rows).toBe(batch.rows);
    s.policy.dispose();
  });

  it('additive mode appends the positive rows, weighted so the loss is L_main + α·L_aux', async () => {
    const s = setup(3, 'abc', 8, 4);
    const batch = await mainBatch(s);
    const alpha = 1 / 64;
    const aepo = createAepo({ mode: 'additive', alpha });
    const out = await aepo.augmentBatch!(batch, augmentContext(s));
    const { scored } = await expectedTempered(s, 1.2, 2, 8);
    const positive = [...scored.scores.keys()].filter((r) => scored.scores[r]! > 0.05); // 1[R=1]
    expect(positive.length).toBeGreaterThan(0);
    expect(out.rows).toBe(batch.rows + positive.length);
    expect(aepo.metrics!()['aepo/samples_used']).toBe(positive.length);
    const nm = batch.rows; // one response token per row
    const na = positive.length;
    const w = out.rowWeights!;
    for (let r = 0; r < nm; r++) expect(w[r]).toBeCloseTo((nm + na) / nm, 6);
    for (let i = 0; i < na; i++) {
      expect(w[nm + i]).toBeCloseTo((alpha * (nm + na)) / na, 6);
      expect(out.tokens[(nm + i) * 2 + 1]).toBe(scored.tokens[positive[i]! * 2 + 1]);
      expect(out.advantages[(nm + i) * 2 + 1]).toBe(1);
    }
    // Token-mean of w·ℓ over all rows equals mean_main ℓ + α·mean_aux ℓ for any ℓ.
    const ell = Array.from({ length: out.rows }, (_, r) => Math.sin(r + 1));
    const tokenMean = ell.reduce((a, x, r) => a + w[r]! * x, 0) / (nm + na);
    const mainMean = ell.slice(0, nm).reduce((a, b) => a + b, 0) / nm;
    const auxMean = ell.slice(nm).reduce((a, b) => a + b, 0) / na;
    expect(tokenMean).toBeCloseTo(mainMean + alpha * auxMean, 6);
    s.policy.dispose();
  });

  it('no positive tempered sample: skips the term, logs it, returns the batch unchanged', async () => {
    for (const mode of ['replace', 'additive'] as const) {
      const s = setup(2, 'z'); // nothing is ever correct
      const batch = await mainBatch(s);
      const aepo = createAepo({ mode });
      const out = await aepo.augmentBatch!(batch, augmentContext(s));
      expect(out).toBe(batch);
      const m = aepo.metrics!();
      expect(m['aepo/skipped']).toBe(1);
      expect(m['aepo/samples_kept']).toBe(0);
      expect(m['aepo/samples_used']).toBe(0);
      expect(m['aepo/samples_generated']).toBe(32);
      s.policy.dispose();
    }
  });
});

describe('aepo controller', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('binary rule: step 1 uses T_high (initial reading 0), then follows the previous reading', async () => {
    const aepo = createAepo({ targetEntropy: 0.5 });
    expect(aepo.metrics!()['aepo/next_temperature']).toBe(1.2);
    aepo.afterUpdate!({ 'entropy/nll': 0.6, 'entropy/exact': 0.1 }, { step: 1, seed: 0 });
    expect(aepo.metrics!()['aepo/next_temperature']).toBe(0.8);
    aepo.afterUpdate!({ 'entropy/nll': 0.5, 'entropy/exact': 0.9 }, { step: 2, seed: 0 });
    expect(aepo.metrics!()['aepo/next_temperature']).toBe(1.2); // H_est ≤ H → T_high
    const exact = createAepo({ targetEntropy: 0.5, estimator: 'exact' });
    exact.afterUpdate!({ 'entropy/nll': 0.1, 'entropy/exact': 0.9 }, { step: 1, seed: 0 });
    expect(exact.metrics!()['aepo/next_temperature']).toBe(0.8);
  });

  it.each([
    // [reading, expected T] for H = 0.75, T ∈ [0.8, 1.2]: clip(1 + 0.75 − reading)
    [0, 1.2],
    [0.5, 1.2],
    [0.55, 1.2],
    [0.6, 1.15],
    [0.75, 1],
    [0.85, 0.9],
    [0.95, 0.8],
    [2, 0.8],
  ])('continuous rule: reading %f → T = %f', (reading, expected) => {
    expect(chooseTemperature(reading, { rule: 'continuous', targetEntropy: 0.75, temperatureLow: 0.8, temperatureHigh: 1.2 })).toBeCloseTo(
      expected,
      12,
    );
    const aepo = createAepo({ rule: 'continuous' });
    aepo.afterUpdate!({ 'entropy/nll': reading }, { step: 1, seed: 0 });
    expect(aepo.metrics!()['aepo/next_temperature']).toBeCloseTo(expected, 12);
  });

  it('state survives save/load: a restored controller picks the same next temperature', async () => {
    const a = createAepo({ rule: 'continuous', targetEntropy: 0.7 });
    a.afterUpdate!({ 'entropy/nll': 0.62 }, { step: 3, seed: 0 });
    const saved = JSON.parse(JSON.stringify(a.state!()));
    const b = createAepo({ rule: 'continuous', targetEntropy: 0.7 });
    expect(b.metrics!()['aepo/next_temperature']).toBe(1.2);
    b.loadState!(saved);
    expect(b.metrics!()['aepo/next_temperature']).toBeCloseTo(1.08, 12);
    // The restored controller draws the same tempered rows as the original.
    const s1 = setup(5, 'abc');
    const batch = await mainBatch(s1);
    const outA = await a.augmentBatch!(batch, augmentContext(s1));
    const outB = await b.augmentBatch!(batch, augmentContext(s1));
    expect(b.metrics!()['aepo/temperature']).toBe(a.metrics!()['aepo/temperature']);
    expect(Array.from(outB.tokens)).toEqual(Array.from(outA.tokens));
    s1.policy.dispose();
  });

  it.each([null, 3, { version: 2, reading: 0, step: 0 }, { version: 1, reading: -1, step: 0 }, { version: 1, reading: 0.5, step: 1.5 }])(
    'rejects bad state %j with a StateError',
    (bad) => {
      const aepo = createAepo();
      expect(() => aepo.loadState!(bad as never)).toThrow(StateError);
    },
  );

  it('a missing entropy metric is a clear error naming the key', () => {
    const aepo = createAepo();
    try {
      aepo.afterUpdate!({ 'entropy/exact': 0.3 }, { step: 1, seed: 0 });
      expect.unreachable();
    } catch (e) {
      expect(isRftError(e)).toBe(true);
      expect((e as Error).message).toContain('entropy/nll');
    }
  });

  it("readingRows 'main' reads the main-rollout metric of the chosen estimator", () => {
    // Plain (all rows) and main-only readings on opposite sides of the target.
    const metrics = { 'entropy/nll': 0.9, 'entropy/nll_main': 0.3, 'entropy/exact': 0.2, 'entropy/exact_main': 0.8 };
    const all = createAepo({ targetEntropy: 0.5 });
    all.afterUpdate!(metrics, { step: 1, seed: 0 });
    expect(all.metrics!()['aepo/next_temperature']).toBe(0.8);
    const main = createAepo({ targetEntropy: 0.5, readingRows: 'main' });
    main.afterUpdate!(metrics, { step: 1, seed: 0 });
    expect(main.metrics!()['aepo/next_temperature']).toBe(1.2);
    expect(main.state!()).toEqual({ version: 1, reading: 0.3, step: 1 });
    const exact = createAepo({ targetEntropy: 0.5, readingRows: 'main', estimator: 'exact' });
    exact.afterUpdate!(metrics, { step: 1, seed: 0 });
    expect(exact.state!()).toEqual({ version: 1, reading: 0.8, step: 1 });
    expect(entropyMetricKey('nll', 'main')).toBe('entropy/nll_main');
    expect(entropyMetricKey('exact')).toBe('entropy/exact');
  });

  it("readingRows 'main' without the _main metric is a clear error naming it", () => {
    const aepo = createAepo({ readingRows: 'main' });
    try {
      aepo.afterUpdate!({ 'entropy/nll': 0.3, 'entropy/exact': 0.3 }, { step: 1, seed: 0 });
      expect.unreachable();
    } catch (e) {
      expect(isRftError(e)).toBe(true);
      expect((e as Error).message).toContain("'entropy/nll_main'");
      expect((e as Error).message).toContain('readingRows');
    }
    expect(() => createAepo({ readingRows: 'tempered' as never })).toThrow(/readingRows/);
  });

  it('bad options name the field', () => {
    expect(() => createAepo({ mode: 'sometimes' as never })).toThrow(/mode/);
    expect(() => createAepo({ promptFraction: 0 })).toThrow(/promptFraction/);
  });
});
