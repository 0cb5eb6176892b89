import { OptionsError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { evaluateExpression, MAX_EXPRESSION_DEPTH, parseArithmetic } from './arithmetic';
import { createBoxedMathReward } from './boxed-math';
import { MAX_ANSWER_CHARS, MAX_ANSWER_DEPTH } from './math-answer';
import { createNumericMatchReward, extractLastNumber } from './numeric-match';
import { Rational } from './rational';
import { rewardDefinitions } from './definitions';

const input = (completion: string, reference: string) => ({
  prompt: { id: 'p', prompt: 'q', reference },
  completion,
  finishReason: 'stop' as const,
});

describe('boxed-math edge cases', () => {
  const reward = createBoxedMathReward();
  const score = (completion: string, reference: string) => {
    const v = (reward.score([input(completion, reference)]) as Array<number | { score: number }>)[0]!;
    return typeof v === 'number' ? v : v.score;
  };
  it.each([
    ['\\boxed{92(60)}', '9260', 0], // adjacent parentheses are not digit concatenation
    ['\\boxed{76.0.0}', '760', 0], // two decimal points are not one number
    ['\\boxed{\\frac331}', '3/31', 0], // TeX: \frac{3}{3}1
    ['\\boxed{\\frac331}', '1', 0],
    ['\\boxed{{5}}', '5', 1], // a TeX group around 5
    ['\\boxed{{{5}}}', '5', 1],
    ['\\boxed{\\frac12}', '0.5', 1],
    ['\\boxed{(3)}', '3', 1],
    ['\\boxed{2.50}', '2.5', 1],
  ])('%s vs %s → %d', (completion, reference, expected) => {
    expect(score(completion, reference)).toBe(expected);
  });

  it('scores over-limit answers 0 with a reason component, fast', () => {
    const cases = [
      `\\boxed{${'('.repeat(3000)}1${')'.repeat(3000)}}`,
      `\\boxed{${'9'.repeat(100_000)}.5}`,
      `\\boxed{${'1+'.repeat(MAX_ANSWER_CHARS)}1}`,
    ];
    for (const c of cases) {
      const t0 = Date.now();
      const [v] = reward.score([input(c, '1')]) as Array<{ score: number; components?: Record<string, number> }>;
      expect(Date.now() - t0).toBeLessThan(500);
      expect(v).toEqual({ score: 0, components: { over_limit: 1 } });
    }
    const deepOk = `\\boxed{${'('.repeat(MAX_ANSWER_DEPTH - 1)}1${')'.repeat(MAX_ANSWER_DEPTH - 1)}}`;
    expect(score(deepOk, '1')).toBe(1);
  });
});

describe('parser limits', () => {
  it('fails, never overflows the stack, on deep nesting and huge literals', () => {
    expect(parseArithmetic(`${'('.repeat(5000)}1${')'.repeat(5000)}`)).toBeUndefined();
    expect(parseArithmetic(`${'-'.repeat(5000)}1`)).toBeUndefined();
    expect(evaluateExpression(`${'('.repeat(MAX_EXPRESSION_DEPTH - 2)}2${')'.repeat(MAX_EXPRESSION_DEPTH - 2)}`)?.equals(Rational.of(2n))).toBe(true);
    const t0 = Date.now();
    expect(Rational.parseDecimal(`${'7'.repeat(100_000)}.1`)).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(200);
  });
  it('rejects unary plus when asked', () => {
    expect(parseArithmetic('+3', { unaryPlus: false })).toBeUndefined();
    expect(parseArithmetic('2*(+3)', { unaryPlus: false })).toBeUndefined();
    expect(parseArithmetic('2+3', { unaryPlus: false })).toBeDefined();
  });
});

describe('numeric-match signs', () => {
  it.each([
    ['82-1', 1],
    ['the answer is -1', -1],
    ['x=(-3)', -3],
    ['5+-2', -2],
    ['3e2-4', 4],
  ])('last number of %s is %d', (text, expected) => {
    expect(extractLastNumber(text)?.equals(Rational.of(BigInt(expected)))).toBe(true);
  });
  it('82-1 does not match -1', () => {
    expect(createNumericMatchReward().score([input('82-1', '-1')])).toEqual([0]);
  });
});

describe('strict options', () => {
  for (const def of rewardDefinitions) {
    it(`${def.id} rejects an unknown option naming it`, () => {
      let err: unknown;
      try {
        def.create({ typo: 1 } as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OptionsError);
      expect(String((err as Error).message)).toMatch(/typo/);
    });
  }
});
