import { describe, expect, it } from 'vitest';
import { evaluateExpression } from './arithmetic';
import { extractBoxed, mathAnswersEqual, normalizeMathAnswer } from './math-answer';
import { Rational } from './rational';

describe('extractBoxed', () => {
  it('takes the last boxed group with nested braces', () => {
    expect(extractBoxed('first \\boxed{1} then \\boxed{\\frac{1}{2}} done')).toBe('\\frac{1}{2}');
    expect(extractBoxed('x = \\boxed{ {a}+{b} }')).toBe(' {a}+{b} ');
    expect(extractBoxed('so \\boxed 7$')).toBe('7');
    expect(extractBoxed('\\fbox{3}')).toBe('3');
  });
  it('is undefined when missing or unbalanced', () => {
    expect(extractBoxed('the answer is 4')).toBeUndefined();
    expect(extractBoxed('\\boxed{\\frac{1}{2}')).toBeUndefined();
  });
});

describe('normalizeMathAnswer', () => {
  it.each([
    ['\\frac{1}{2}', '1/2'],
    ['\\dfrac{3}{4}', '3/4'],
    ['\\frac12', '1/2'],
    ['\\frac{\\frac{1}{2}}{3}', '(1/2)/3'],
    ['\\left( 2 \\right)', '2'],
    ['007', '7'],
    ['3.0', '3'],
    ['2.50', '2.5'],
    ['$ 1,000 $', '1000'],
    ['\\text{42}.', '42'],
    ['x \\, + \\! 1', 'x+1'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeMathAnswer(input)).toBe(expected);
  });
});

describe('mathAnswersEqual', () => {
  it.each([
    ['\\frac{1}{2}', '0.5'],
    ['1/2', '\\frac{2}{4}'],
    ['-\\frac{3}{6}', '-0.5'],
    ['\\left(\\frac{6}{3}\\right)', '2.0'],
    ['0012', '12'],
    ['1,000', '1000'],
    ['x+1', 'x + 1'],
  ])('%s equals %s', (a, b) => {
    expect(mathAnswersEqual(a, b)).toBe(true);
  });
  it.each([
    ['0.333', '1/3'],
    ['2', '3'],
    ['x+1', 'x+2'],
    ['', '0'],
    ['\\boxed{}', ''],
  ])('%s differs from %s', (a, b) => {
    expect(mathAnswersEqual(a, b)).toBe(false);
  });
  it('uses the relative tolerance only when asked', () => {
    expect(mathAnswersEqual('3.1416', '3.14159')).toBe(false);
    expect(mathAnswersEqual('3.1416', '3.14159', 1e-4)).toBe(true);
  });
});

describe('Rational and evaluateExpression', () => {
  it('computes exactly', () => {
    expect(evaluateExpression('(1+2)/3')?.toString()).toBe('1');
    expect(evaluateExpression('1/3+1/6')?.toString()).toBe('1/2');
    expect(evaluateExpression('2-3*4')?.toString()).toBe('-10');
    expect(evaluateExpression('8/(3-3)')).toBeUndefined();
    expect(evaluateExpression('3+')).toBeUndefined();
    expect(evaluateExpression('(1')).toBeUndefined();
    expect(Rational.parseDecimal('1e-3')?.toString()).toBe('1/1000');
    expect(Rational.parseDecimal('-.25')?.toString()).toBe('-1/4');
    expect(Rational.parseDecimal('abc')).toBeUndefined();
  });
});
