import { OptionsError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { createBoxedMathReward } from './boxed-math';
import { RewardError } from './errors';
import { createExactMatchReward } from './exact-match';
import { createFormatReward } from './format';
import { createLengthPenalty } from './length-penalty';
import { createNumericMatchReward } from './numeric-match';
import { createOverlongPenalty } from './overlong-penalty';
import { createRepetitionPenalty } from './repetition-penalty';
import { input } from './test-helpers';

const withTokens = (completion: string, responseTokens: number) => ({ ...input(completion), responseTokens });

describe('exact-match', () => {
  it('normalises whitespace by default, case only when asked', async () => {
    const r = createExactMatchReward();
    expect(await r.score([input('  Paris\n', 'Paris'), input('New   York', 'New York'), input('paris', 'Paris')])).toEqual([1, 1, 0]);
    const ci = createExactMatchReward({ caseSensitive: false, collapseWhitespace: false });
    expect(await ci.score([input('paris', 'PARIS'), input('New  York', 'new york')])).toEqual([1, 0]);
  });
  it('needs a reference', () => {
    expect(() => createExactMatchReward().score([input('x')])).toThrow(RewardError);
  });
});

describe('numeric-match', () => {
  it('compares the last number exactly by default', async () => {
    const r = createNumericMatchReward();
    const got = await r.score([
      input('so 3 + 4 = 7', '7'),
      input('answer: 7.0', '7'),
      input('1,234 apples', '1234'),
      input('7 then 8', '7'),
      input('no number', '7'),
      input('-2', '-2'),
      input('0.1', '0.10000001'),
    ]);
    expect(got).toEqual([1, 1, 1, 0, 0, 1, 0]);
  });
  it('accepts within tolerance and can require the whole completion', async () => {
    expect(await createNumericMatchReward({ absTolerance: 0.01 }).score([input('3.14', '3.1416'), input('3.2', '3.1416')])).toEqual([1, 0]);
    expect(await createNumericMatchReward({ relTolerance: 0.1 }).score([input('105', '100'), input('111', '100')])).toEqual([1, 0]);
    expect(await createNumericMatchReward({ extract: 'whole' }).score([input(' 42 ', '42'), input('x=42', '42')])).toEqual([1, 0]);
  });
  it('rejects a non-numeric reference and bad options', () => {
    expect(() => createNumericMatchReward().score([input('1', 'one')])).toThrow(/reference 'one'/);
    expect(() => createNumericMatchReward({ absTolerance: -1 })).toThrow(OptionsError);
  });
});

describe('boxed-math', () => {
  it('verifies boxed answers after normalisation', async () => {
    const r = createBoxedMathReward();
    const got = await r.score([
      input('We get \\boxed{\\frac{1}{2}}.', '0.5'),
      input('\\boxed{2} no wait \\boxed{3}', '3'),
      input('\\boxed{\\left(4\\right)}', '\\boxed{4.0}'),
      input('the answer is 3', '3'),
      input('\\boxed{0.33}', '\\frac13'),
      input('\\boxed{x^2 + 1}', 'x^2+1'),
    ]);
    expect(got).toEqual([1, 1, 1, 0, 0, 1]);
  });
  it('scores an unboxed completion when boxes are optional', async () => {
    expect(await createBoxedMathReward({ requireBoxed: false }).score([input(' 6/4 ', '3/2')])).toEqual([1]);
  });
});

describe('format', () => {
  it('checks a regex', async () => {
    const r = createFormatReward({ pattern: '^\\d+$' });
    expect(await r.score([input('123'), input('12a')])).toEqual([1, 0]);
  });
  it('checks required tags once each, in order', async () => {
    const r = createFormatReward({ tags: ['think', 'answer'], mismatchScore: -1 });
    expect(
      await r.score([
        input('<think>hm</think> <answer>4</answer>'),
        input('<answer>4</answer><think>hm</think>'),
        input('<think>a</think><think>b</think><answer>4</answer>'),
        input('<think>hm</think>'),
        input('<think></answer></think><answer>'),
      ]),
    ).toEqual([1, -1, -1, -1, -1]);
  });
  it('needs a pattern or tags, and a valid regex', () => {
    expect(() => createFormatReward({})).toThrow(/pattern.*give a `pattern`/s);
    expect(() => createFormatReward({ pattern: '(' })).toThrow(/not a valid regular expression/);
  });
});

describe('overlong-penalty (DAPO)', () => {
  it('is 0, then linear to −1 at L_max, then −1', async () => {
    // L_max 20, buffer 8: ramp starts after 12; (12 − 16)/8 = −0.5, (12 − 20)/8 = −1.
    const r = createOverlongPenalty({ maxLength: 20, buffer: 8 });
    const got = await r.score([withTokens('', 5), withTokens('', 12), withTokens('', 14), withTokens('', 16), withTokens('', 20), withTokens('', 25)]);
    expect(got).toEqual([0, 0, -0.25, -0.5, -1, -1]);
  });
  it('counts characters when asked (or when no token count is given)', async () => {
    const r = createOverlongPenalty({ maxLength: 4, buffer: 2, unit: 'chars' });
    expect(await r.score([withTokens('abc', 100), input('abcd'), input('ab')])).toEqual([-0.5, -1, 0]);
    expect(await createOverlongPenalty({ maxLength: 4, buffer: 2 }).score([input('abc')])).toEqual([-0.5]);
  });
  it('requires maxLength and a buffer no wider than it', () => {
    expect(() => createOverlongPenalty({ buffer: 2 } as never)).toThrow(/maxLength/);
    expect(() => createOverlongPenalty({ maxLength: 4, buffer: 5 })).toThrow(/buffer: must be ≤ maxLength/);
  });
});

describe('length-penalty', () => {
  it('is −coefficient · excess, capped', async () => {
    const r = createLengthPenalty({ target: 10, coefficient: 0.1, maxPenalty: 0.5 });
    const [a, b, c] = (await r.score([withTokens('', 8), withTokens('', 13), withTokens('', 30)])) as number[];
    expect(Object.is(a, 0)).toBe(true);
    expect(b).toBeCloseTo(-0.3, 12);
    expect(c).toBe(-0.5);
  });
});

describe('repetition-penalty', () => {
  it('scales the fraction of repeated n-grams', async () => {
    // words: a b a b a b → bigrams ab ba ab ba ab: 2 distinct of 5 → 1 − 2/5 = 0.6.
    const r = createRepetitionPenalty({ ngramSize: 2, maxPenalty: -0.5 });
    expect(await r.score([input('a b a b a b'), input('one two three'), input('one')])).toEqual([-0.3, 0, 0]);
    // chars: "aaaa" → trigrams aaa aaa: 1 distinct of 2 → 0.5.
    const c = createRepetitionPenalty({ unit: 'chars' });
    expect(await c.score([input('aaaa'), input('abcd')])).toEqual([-0.5, 0]);
  });
  it('rejects a positive maxPenalty', () => {
    expect(() => createRepetitionPenalty({ maxPenalty: 1 })).toThrow(/maxPenalty/);
  });
});
