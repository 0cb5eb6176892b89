import { OptionsError, RftError, ShapeError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import {
  createDrGrpoAdvantage,
  createGrpoAdvantage,
  createNormalizedAdvantage,
  createPassAtKAdvantage,
  createRlooAdvantage,
} from './index';

/** Rows of length `seqLen` with the response in [start, start+len). */
function batch(scores: number[], groupIds: number[], seqLen = 6, spans?: Array<[number, number]>) {
  const rows = scores.length;
  const responseMask = new Float32Array(rows * seqLen);
  for (let r = 0; r < rows; r++) {
    const [start, len] = spans?.[r] ?? [1, 1 + (r % (seqLen - 1))];
    for (let t = start; t < start + len; t++) responseMask[r * seqLen + t] = 1;
  }
  return { rows, seqLen, scores: Float32Array.from(scores), groupIds: Int32Array.from(groupIds), responseMask };
}

describe('advantage invariants', () => {
  it('GRPO advantages have zero mean within every group of size > 1', () => {
    const scores = [0.3, 1.2, -0.7, 2, 0, 0, 1, 5, 5.5, -1];
    const groups = [1, 1, 1, 1, 2, 2, 2, 3, 3, 3];
    const out = createGrpoAdvantage().compute(batch(scores, groups));
    const seq = out.sequenceAdvantages!;
    for (const g of [1, 2, 3]) {
      const rows = groups.flatMap((id, r) => (id === g ? [r] : []));
      const sum = rows.reduce((a, r) => a + seq[r]!, 0);
      expect(Math.abs(sum)).toBeLessThan(1e-5);
      // unit (unbiased) std up to eps
      const m = sum / rows.length;
      const sd = Math.sqrt(rows.reduce((a, r) => a + (seq[r]! - m) ** 2, 0) / (rows.length - 1));
      expect(sd).toBeCloseTo(1, 4);
    }
  });

  it('broadcasts the row advantage over the response mask only', () => {
    const input = batch([1, 0], [0, 0], 5, [
      [1, 3],
      [2, 2],
    ]);
    const out = createDrGrpoAdvantage().compute(input);
    expect(Array.from(out.advantages)).toEqual([0, 0.5, 0.5, 0.5, 0, 0, 0, -0.5, -0.5, 0]);
  });

  it('an all-equal group and a size-1 group: hand-computed values', () => {
    // group 7 all equal -> 0; group 9 singleton -> r/(1+eps) (verl), or 0 with singletonGroups 'zero'
    const input = batch([2, 2, 2, 3], [7, 7, 7, 9]);
    const a = createGrpoAdvantage().compute(input);
    expect(Array.from(a.sequenceAdvantages!)).toEqual([0, 0, 0, Math.fround(3 / (1 + 1e-6))]);
    expect(a.metrics['groups/zero_std_frac']).toBe(1);
    const z = createGrpoAdvantage({ singletonGroups: 'zero' }).compute(input);
    expect(Array.from(z.sequenceAdvantages!)).toEqual([0, 0, 0, 0]);
  });

  it('RLOO equals r_i − mean of the others (hand-computed)', () => {
    const out = createRlooAdvantage().compute(batch([1, 0, 0, 1], [0, 0, 0, 0]));
    const expected = [1 - 1 / 3, 0 - 2 / 3, 0 - 2 / 3, 1 - 1 / 3];
    out.sequenceAdvantages!.forEach((a, i) => {
      expect(a).toBeCloseTo(expected[i]!, 6);
    });
  });

  it('knob presets equal their knob settings', () => {
    const input = batch([0.1, 0.9, 0.4, 2, -1, 0.5], [0, 0, 0, 1, 1, 2]);
    const grpo = createGrpoAdvantage().compute(input).advantages;
    const knob = createNormalizedAdvantage({ mean: 'group', std: 'group' }).compute(input).advantages;
    expect(Array.from(grpo)).toEqual(Array.from(knob));
    const rloo = createRlooAdvantage().compute(input).advantages;
    const knobLoo = createNormalizedAdvantage({ mean: 'group', std: 'none', leaveOneOut: true }).compute(input).advantages;
    expect(Array.from(rloo)).toEqual(Array.from(knobLoo));
  });

  it('pass@k: only the best row of a group is nonzero', () => {
    const out = createPassAtKAdvantage({ normalize: false }).compute(batch([0.2, 0.9, 0.5, 1, 1], [0, 0, 0, 1, 1]));
    expect(Array.from(out.sequenceAdvantages!).map((x) => Number(x.toFixed(6)))).toEqual([0, 0.4, 0, 0, 0]);
  });

  it('bad input gives rftkit errors naming the field', () => {
    const good = batch([1, 0], [0, 0]);
    expect(() => createGrpoAdvantage().compute({ ...good, scores: new Float32Array(3) })).toThrow(ShapeError);
    expect(() => createGrpoAdvantage().compute({ ...good, responseMask: new Float32Array(2) })).toThrow(/responseMask/);
    expect(() => createGrpoAdvantage().compute({ ...good, scores: Float32Array.from([Number.NaN, 0]) })).toThrow(RftError);
    expect(() => createGrpoAdvantage({ eps: -1 })).toThrow(OptionsError);
    expect(() => createNormalizedAdvantage({ mean: 'row' as 'group' })).toThrow(/mean/);
  });
});
