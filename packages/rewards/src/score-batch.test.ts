import { OptionsError } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { createExactMatchReward } from './exact-match';
import type { RewardInputWithLength } from './length';
import { type ScoreReport, scoreBatch } from './score-batch';
import { makeBatch } from './test-helpers';
import { createWeightedReward } from './weighted';

const prompts = [
  { id: 'a', prompt: '1+1=', reference: '2' },
  { id: 'b', prompt: '2+2=', reference: '4' },
];
const batch = makeBatch(prompts, [
  { prompt: 0, response: '2', tokens: 2 },
  { prompt: 0, response: '3', tokens: 2 },
  { prompt: 1, response: '4', tokens: 2 },
  { prompt: 1, response: '44', tokens: 3, finish: 'length' },
]);

describe('scoreBatch', () => {
  it('scores each row against its own prompt and keeps the batch', async () => {
    const out = await scoreBatch(createExactMatchReward(), batch);
    expect(Array.from(out.scores)).toEqual([1, 0, 1, 0]);
    expect(out.rewardComponents).toEqual({});
    expect(out.tokens).toBe(batch.tokens);
  });

  it('passes prompt, completion, finish reason and token length', async () => {
    const seen: RewardInputWithLength[] = [];
    const spy: RewardFunction = {
      id: 'spy',
      score: (xs) => {
        seen.push(...xs);
        return xs.map(() => 0);
      },
    };
    await scoreBatch(spy, batch);
    expect(seen.map((x) => [x.prompt.id, x.completion, x.finishReason, x.responseTokens])).toEqual([
      ['a', '2', 'stop', 2],
      ['a', '3', 'stop', 2],
      ['b', '4', 'stop', 2],
      ['b', '44', 'length', 3],
    ]);
  });

  it('collects components, NaN where a row lacks one', async () => {
    const r = createWeightedReward({ terms: [{ name: 'correct', weight: 2, reward: 'exact-match' }] });
    const out = await scoreBatch(r, batch);
    expect(Array.from(out.scores)).toEqual([2, 0, 2, 0]);
    expect(Array.from(out.rewardComponents.correct!)).toEqual([1, 0, 1, 0]);
  });

  it('isolates rows that throw: errorScore, a warning naming the row, other rows scored', async () => {
    const warnings: string[] = [];
    const picky: RewardFunction = {
      id: 'picky',
      score: (xs) =>
        xs.map((x) => {
          if (x.completion === '3') throw new Error('cannot parse 3');
          return { score: 1, components: { ok: 1 } };
        }),
    };
    const out = await scoreBatch(picky, batch, { errorScore: -1, onWarning: (m) => warnings.push(m) });
    expect(Array.from(out.scores)).toEqual([1, -1, 1, 1]);
    expect(Array.from(out.rewardComponents.ok!)).toEqual([1, Number.NaN, 1, 1]);
    expect(warnings).toEqual([
      "reward 'picky' failed on the whole batch (cannot parse 3); scoring row by row",
      "reward 'picky' failed on row 1 (prompt 'a'): threw: cannot parse 3; scored -1",
    ]);
  });

  it('times out slow rows (async), scoring them errorScore', async () => {
    const warnings: string[] = [];
    const slow: RewardFunction = {
      id: 'slow',
      score: (xs) =>
        Promise.all(
          xs.map((x) => new Promise<number>((resolve) => setTimeout(() => resolve(1), x.completion === '44' ? 10_000 : 1))),
        ),
    };
    const t0 = Date.now();
    const out = await scoreBatch(slow, batch, { timeoutMs: 50, onWarning: (m) => warnings.push(m) });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(Array.from(out.scores)).toEqual([1, 1, 1, 0]);
    expect(warnings[1]).toBe("reward 'slow' failed on row 3 (prompt 'b'): timed out after 50 ms; scored 0");
  });

  it('treats non-finite scores and wrong result lengths as row failures', async () => {
    const warnings: string[] = [];
    const nan: RewardFunction = { id: 'nan', score: (xs) => xs.map((x) => (x.completion === '4' ? Number.NaN : 1)) };
    const out = await scoreBatch(nan, batch, { onWarning: (m) => warnings.push(m) });
    expect(Array.from(out.scores)).toEqual([1, 1, 0, 1]);
    expect(warnings).toEqual(["reward 'nan' failed on row 2 (prompt 'b'): returned a non-finite score (NaN); scored 0"]);

    const short: RewardFunction = { id: 'short', score: () => [1] };
    const out2 = await scoreBatch(short, batch, { onWarning: () => {} });
    expect(Array.from(out2.scores)).toEqual([1, 1, 1, 1]); // retried one row at a time, where [1] fits
  });

  it('a prompt without a reference fails only its rows', async () => {
    const warnings: string[] = [];
    const b = makeBatch([{ id: 'x', prompt: 'q' }, prompts[1]!], [
      { prompt: 0, response: '2', tokens: 1 },
      { prompt: 1, response: '4', tokens: 1 },
    ]);
    const out = await scoreBatch(createExactMatchReward(), b, { onWarning: (m) => warnings.push(m) });
    expect(Array.from(out.scores)).toEqual([0, 1]);
    expect(warnings[1]).toMatch(/row 0 \(prompt 'x'\): threw: Reward 'exact-match': prompt 'x' has no reference answer/);
  });

  it('a score beyond the float32 range is a failed row (errorScore), not Infinity', async () => {
    const warnings: string[] = [];
    const huge: RewardFunction = { id: 'huge', score: (xs) => xs.map((x) => (x.completion === '4' ? 1e39 : 0.5)) };
    const reports: ScoreReport[] = [];
    const out = await scoreBatch(huge, batch, { errorScore: -1, onWarning: (m) => warnings.push(m), onReport: (r) => reports.push(r) });
    expect(Array.from(out.scores)).toEqual([0.5, 0.5, -1, 0.5]);
    expect(warnings).toEqual([
      "reward 'huge' failed on row 2 (prompt 'b'): returned a score (1e+39) beyond the float32 range (it would be stored as Infinity); scored -1",
    ]);
    expect(reports).toEqual([{ rows: 4, errors: 1, timeouts: 0, firstError: expect.stringMatching(/float32 range/) }]);
    // 3.4e38 is still a float32.
    const big: RewardFunction = { id: 'big', score: (xs) => xs.map(() => ({ score: 3.4e38, components: { c: 1e39 } })) };
    const r2: ScoreReport[] = [];
    await scoreBatch(big, batch, { onWarning: () => {}, onReport: (r) => r2.push(r) });
    expect(r2[0]!.errors).toBe(4);
  });

  it('warns about the first maxRowWarnings failed rows, counts the rest in one line and reports the first error', async () => {
    const first = new Error('row 0 broke');
    const broken: RewardFunction = {
      id: 'broken',
      score: (xs) => {
        if (xs.length > 1) throw new Error('batch broke');
        throw xs[0]!.completion === '2' ? first : new Error('later');
      },
    };
    const warnings: string[] = [];
    const reports: ScoreReport[] = [];
    await scoreBatch(broken, batch, { maxRowWarnings: 2, onWarning: (m) => warnings.push(m), onReport: (r) => reports.push(r) });
    expect(warnings).toEqual([
      "reward 'broken' failed on the whole batch (batch broke); scoring row by row",
      "reward 'broken' failed on row 0 (prompt 'a'): threw: row 0 broke; scored 0",
      "reward 'broken' failed on row 1 (prompt 'a'): threw: later; scored 0",
      "reward 'broken' failed on 2 more rows of this batch (4 of 4 in all); scored 0",
    ]);
    expect(reports).toEqual([{ rows: 4, errors: 4, timeouts: 0, firstError: first }]);
  });

  it('reports timeouts among the errors', async () => {
    const slow: RewardFunction = {
      id: 'slow',
      score: async (xs) => {
        if (xs.length === 1 && xs[0]!.completion === '44') await new Promise((r) => setTimeout(r, 200));
        if (xs.length > 1) await new Promise((r) => setTimeout(r, 200));
        return xs.map(() => 1);
      },
    };
    const reports: ScoreReport[] = [];
    await scoreBatch(slow, batch, { timeoutMs: 30, onWarning: () => {}, onReport: (r) => reports.push(r) });
    expect(reports).toMatchObject([{ rows: 4, errors: 1, timeouts: 1 }]);
  });

  it('rejects bad options', async () => {
    await expect(scoreBatch(createExactMatchReward(), batch, { maxRowWarnings: -1 })).rejects.toThrow(/maxRowWarnings/);
    await expect(scoreBatch(createExactMatchReward(), batch, { errorScore: 1e39 })).rejects.toThrow(/errorScore/);
    await expect(scoreBatch(createExactMatchReward(), batch, { timeoutMs: 0 })).rejects.toThrow(OptionsError);
    await expect(scoreBatch(createExactMatchReward(), batch, { errorScore: Number.NaN })).rejects.toThrow(/errorScore/);
  });
});
