import { OptionsError, parseOptions, Rng, RftError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { defaultSampling, logSoftmaxAt, samplingDistribution, sampleToken, samplingSchema } from './sampling';
import { chiSquareTest } from '@rftkit/test-kit';

const off = { temperature: 1, topK: 0, topP: 1, minP: 0 };
const kept = (probs: Float64Array) => [...probs.keys()].filter((i) => probs[i]! > 0);
const softmax = (logits: number[], T: number) => {
  const e = logits.map((x) => Math.exp(x / T));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
};
function draw(logits: number[], params: typeof off, n: number, seed: number) {
  const counts = new Array<number>(logits.length).fill(0);
  const rng = new Rng(seed);
  const row = Float32Array.from(logits);
  for (let i = 0; i < n; i++) counts[sampleToken(row, params, rng).token]! += 1;
  return counts;
}

describe('samplingSchema', () => {
  it('documents neutral defaults', () => {
    expect(defaultSampling).toEqual({ temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: 32, stopTokens: [] });
  });
  it('rejects out-of-range values naming the field', () => {
    for (const [bad, field] of [
      [{ temperature: -1 }, 'temperature'],
      [{ topK: 1.5 }, 'topK'],
      [{ topP: 0 }, 'topP'],
      [{ topP: 1.2 }, 'topP'],
      [{ minP: 2 }, 'minP'],
      [{ maxNewTokens: 0 }, 'maxNewTokens'],
      [{ stopTokens: [-1] }, 'stopTokens[0]'],
    ] as const) {
      const call = () => parseOptions('sampling', samplingSchema, bad);
      expect(call).toThrow(OptionsError);
      expect(call).toThrow(field);
    }
  });
});

describe('temperature', () => {
  const logits = [1.0, -0.5, 2.0, 0.3, -1.2, 0.8];
  for (const T of [0.5, 1, 2]) {
    it(`token frequencies match softmax(logits / ${T}) (chi-square, 40k draws)`, () => {
      const counts = draw(logits, { ...off, temperature: T }, 40_000, 1234 + T * 10);
      expect(chiSquareTest(counts, softmax(logits, T)).p).toBeGreaterThan(1e-3);
      // The test has power: a 15% wrong temperature is rejected outright.
      expect(chiSquareTest(counts, softmax(logits, T * 1.15)).p).toBeLessThan(1e-6);
    });
  }

  it('returns behaviour log-prob under softmax(logits/T) and logpT1 under softmax(logits)', () => {
    const rng = new Rng(7);
    const row = Float32Array.from(logits);
    for (const T of [0.5, 2]) {
      const q = softmax(logits, T);
      const p = softmax(logits, 1);
      for (let i = 0; i < 50; i++) {
        const s = sampleToken(row, { ...off, temperature: T }, rng);
        expect(s.logp).toBeCloseTo(Math.log(q[s.token]!), 6);
        expect(s.logpT1).toBeCloseTo(Math.log(p[s.token]!), 6);
      }
    }
  });

  it('T = 0 is greedy: first arg-max, behaviour log-prob 0', () => {
    const s = sampleToken(Float32Array.from([0, 3, 1, 3]), { ...off, temperature: 0 }, new Rng(1));
    expect(s.token).toBe(1);
    expect(s.logp).toBe(0);
    expect(s.logpT1).toBeCloseTo(logSoftmaxAt([0, 3, 1, 3], 1), 12);
    expect(kept(samplingDistribution([0, 3, 1, 3], { ...off, temperature: 0 }))).toEqual([1]);
  });
});

describe('truncation keeps exactly the intended set', () => {
  const logProbs = (probs: number[]) => probs.map(Math.log);

  it('top-k keeps the k largest; ties with the k-th are kept; 0 or ≥ vocab is off', () => {
    const logits = [3, 1, 2, 2, 0];
    const k = (topK: number) => kept(samplingDistribution(logits, { ...off, topK }));
    expect(k(1)).toEqual([0]);
    expect(k(2)).toEqual([0, 2, 3]);
    expect(k(3)).toEqual([0, 2, 3]);
    expect(k(4)).toEqual([0, 1, 2, 3]);
    expect(k(5)).toEqual([0, 1, 2, 3, 4]);
    expect(k(9)).toEqual([0, 1, 2, 3, 4]);
    expect(k(0)).toEqual([0, 1, 2, 3, 4]);
  });

  it('top-p keeps the smallest most-probable set reaching p, at least one, ties together', () => {
    const logits = logProbs([0.5, 0.25, 0.125, 0.125]);
    const p = (topP: number) => kept(samplingDistribution(logits, { ...off, topP }));
    expect(p(0.01)).toEqual([0]);
    expect(p(0.5)).toEqual([0]);
    expect(p(0.6)).toEqual([0, 1]);
    expect(p(0.75)).toEqual([0, 1]);
    expect(p(0.76)).toEqual([0, 1, 2, 3]);
    expect(kept(samplingDistribution(logProbs([0.4, 0.1, 0.3, 0.2]), { ...off, topP: 0.8 }))).toEqual([0, 2, 3]);
    expect(kept(samplingDistribution(logProbs([0.3, 0.2, 0.3, 0.2]), { ...off, topP: 0.1 }))).toEqual([0, 2]);
  });

  it('min-p keeps tokens with p ≥ minP · p_max', () => {
    const logits = logProbs([0.5, 0.25, 0.15, 0.1]);
    const m = (minP: number) => kept(samplingDistribution(logits, { ...off, minP }));
    expect(m(0.25)).toEqual([0, 1, 2]);
    expect(m(0.19)).toEqual([0, 1, 2, 3]);
    expect(m(0.4)).toEqual([0, 1]);
    expect(m(0.9)).toEqual([0]);
    expect(kept(samplingDistribution([2, 2, 1, 0], { ...off, minP: 1 }))).toEqual([0, 1]);
  });

  it('applies temperature first, then top-k, then top-p on the renormalised top-k set', () => {
    const logits = logProbs([0.4, 0.3, 0.2, 0.1]);
    // Alone, top-p 0.5 needs two tokens (0.4 < 0.5); after top-k 2 the first has 4/7 ≥ 0.5.
    expect(kept(samplingDistribution(logits, { ...off, topP: 0.5 }))).toEqual([0, 1]);
    expect(kept(samplingDistribution(logits, { ...off, topK: 2, topP: 0.5 }))).toEqual([0]);
    // T = 0.25 sharpens to p ∝ (0.4, 0.3, 0.2, 0.1)^4: the first token alone holds 0.72.
    expect(kept(samplingDistribution(logits, { ...off, temperature: 0.25, topP: 0.7 }))).toEqual([0]);
    expect(kept(samplingDistribution(logits, { ...off, temperature: 4, topP: 0.7 }))).toEqual([0, 1, 2]);
  });

  it('behaviour log-probs are the log of the truncated, renormalised probabilities', () => {
    const probs = [0.4, 0.1, 0.3, 0.2];
    const logits = Float32Array.from(logProbs(probs));
    // topK 3 drops 0.1; then top-p 0.7 over (0.4, 0.3, 0.2)/0.9 needs 0.4/0.9 + 0.3/0.9 = 0.78.
    const params = { temperature: 1, topK: 3, topP: 0.7, minP: 0 };
    const q = [0.4 / 0.7, 0, 0.3 / 0.7, 0];
    expect([...samplingDistribution(logits, params)].map((x) => Number(x.toFixed(6)))).toEqual(
      q.map((x) => Number(x.toFixed(6))),
    );
    const rng = new Rng(99);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) {
      const s = sampleToken(logits, params, rng);
      counts[s.token]! += 1;
      if (i < 200) {
        expect(s.logp).toBeCloseTo(Math.log(q[s.token]!), 6);
        expect(s.logpT1).toBeCloseTo(Math.log(probs[s.token]!), 6);
      }
    }
    expect(counts[1]).toBe(0);
    expect(counts[3]).toBe(0);
    expect(chiSquareTest(counts, q).p).toBeGreaterThan(1e-3);
  });

  it('tempered + min-p frequencies match the hand-computed truncated distribution', () => {
    const logits = [1.0, -0.5, 2.0, 0.3, -1.2, 0.8];
    const T = 2;
    const p = softmax(logits, T);
    const pmax = Math.max(...p);
    const masked = p.map((x) => (x >= 0.5 * pmax ? x : 0));
    const z = masked.reduce((a, b) => a + b, 0);
    const q = masked.map((x) => x / z);
    expect(q.filter((x) => x > 0).length).toBe(3);
    const counts = draw(logits, { ...off, temperature: T, minP: 0.5 }, 30_000, 5);
    expect(chiSquareTest(counts, q).p).toBeGreaterThan(1e-3);
  });
});

describe('bad logits', () => {
  it('throws an RftError on NaN or +Infinity', () => {
    expect(() => sampleToken([0, Number.NaN], off, new Rng(1))).toThrow(RftError);
    expect(() => sampleToken([0, Number.POSITIVE_INFINITY], off, new Rng(1))).toThrow(/non-finite/);
  });
  it('never samples a -Infinity (masked) token', () => {
    const counts = draw([0, Number.NEGATIVE_INFINITY, 0], off, 2000, 3);
    expect(counts[1]).toBe(0);
  });
});
