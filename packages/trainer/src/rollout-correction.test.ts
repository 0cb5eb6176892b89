import { describe, expect, it } from 'vitest';
import { rolloutCorrectionSchema } from './config';
import { lossCorrection } from './rollout-correction';

// Two rows of 3 tokens; token 0 is prompt. μ = logpT1, π_old = oldLogp.
const batch = {
  rows: 2,
  seqLen: 3,
  responseMask: Float32Array.from([0, 1, 1, 0, 1, 1]),
  logpT1: Float32Array.from([0, -1, -1, 0, -1, -1]),
  finishReason: ['stop', 'length'] as Array<'stop' | 'length'>,
};
// log ratios: row 0: +ln 3, −ln 1.5 ; row 1: 0, +ln 1.2
const oldLogp = Float32Array.from([0, -1 + Math.log(3), -1 - Math.log(1.5), 0, -1, -1 + Math.log(1.2)]);
const rc = (o: object) => rolloutCorrectionSchema.parse(o);

describe('lossCorrection', () => {
  it('off by default: no weights, no mask, no metrics', () => {
    expect(lossCorrection(batch, oldLogp, { rolloutCorrection: rc({}) })).toEqual({ metrics: {} });
  });
  it('token TIS: min(π_old/μ, C) per token', () => {
    const c = lossCorrection(batch, oldLogp, { rolloutCorrection: rc({ tokenIs: true, tokenIsCap: 2 }) });
    const w = Array.from(c.tokenWeights!);
    [1, 2, 1 / 1.5, 1, 1, 1.2].forEach((x, i) => {
      expect(w[i]).toBeCloseTo(x, 5);
    });
    expect(c.metrics['rollout_correction/weight_mean']).toBeCloseTo((2 + 1 / 1.5 + 1 + 1.2) / 4, 5);
    expect(c.metrics['rollout_correction/masked_token_frac']).toBe(0);
  });
  it('sequence mask: geometric mean ratio sqrt(3/1.5) = 1.414 outside [0.8, 1.2] drops row 0 only', () => {
    const c = lossCorrection(batch, oldLogp, { rolloutCorrection: rc({ seqMask: true, seqMaskLow: 0.8, seqMaskHigh: 1.2 }) });
    expect(Array.from(c.lossMask!)).toEqual([0, 0, 0, 0, 1, 1]);
    expect(c.metrics['rollout_correction/masked_seq_frac']).toBe(0.5);
    expect(c.metrics['rollout_correction/masked_token_frac']).toBe(0.5);
  });
  it('IcePop token mask: ratio 3 outside [1/2, 2] is dropped', () => {
    const c = lossCorrection(batch, oldLogp, { rolloutCorrection: rc({ tokenMask: true, tokenMaskBound: 2 }) });
    expect(Array.from(c.lossMask!)).toEqual([0, 0, 1, 0, 1, 1]);
    expect(c.metrics['rollout_correction/masked_token_frac']).toBe(0.25);
    expect(c.metrics['rollout_correction/masked_seq_frac']).toBe(0);
  });
  it('overlong filter masks truncated rows', () => {
    const c = lossCorrection(batch, oldLogp, { overlongFilter: true });
    expect(Array.from(c.lossMask!)).toEqual([0, 1, 1, 0, 0, 0]);
    expect(c.metrics['overlong/masked_rows']).toBe(1);
  });
  it('on-policy (μ = π_old): every correction keeps every token at weight 1', () => {
    const on = { ...batch, finishReason: ['stop', 'stop'] as Array<'stop' | 'length'> };
    const c = lossCorrection(on, Float32Array.from(batch.logpT1), {
      rolloutCorrection: rc({ tokenIs: true, seqMask: true, tokenMask: true }),
      overlongFilter: true,
    });
    expect(Array.from(c.lossMask!)).toEqual(Array.from(batch.responseMask));
    expect(c.metrics).toMatchObject({ 'rollout_correction/weight_mean': 1, 'rollout_correction/masked_token_frac': 0, 'rollout_correction/masked_seq_frac': 0 });
  });
});
