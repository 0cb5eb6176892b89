import { Rng } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import golden from './__fixtures__/countdown-solutions.json';
import { COUNTDOWN_ALPHABET, createCountdownTask, parseCountdownPrompt } from './countdown';
import { enumerateCountdownSolutions, reachableValues, verifyCountdown } from './countdown-solver';
import { chiSquareCritical } from './test-stats';

const task = createCountdownTask();
const prompt = (p: string) => ({ id: p, prompt: p });

describe('countdown verifier', () => {
  const score = async (p: string, answer: string) => (await task.reward().score([{ prompt: prompt(p), completion: answer, finishReason: 'stop' }]))[0];

  it.each([
    ['3 5 8>19:', '3*8-5'],
    ['3 5 8>19:', ' (8*3)-5 '],
    ['1 2 3>9:', '(1+2)*3'],
    ['1 3 4 6>24:', '6/(1-3/4)'], // needs exact fractions: 1 − 3/4 = 1/4
    ['2 3 5 12>7:', '(12+2)/(5-3)'],
  ])('accepts %s %s', async (p, a) => {
    expect(await score(p, a)).toBe(1);
  });

  it.each([
    ['3 5 8>19:', '3*8-4', 'wrong number'],
    ['3 5 8>19:', '3*8', 'number missing'],
    ['3 5 8>19:', '3*8-5+3-3', 'number reused'],
    ['3 5 8>19:', '3*5+8', 'wrong value (23)'],
    ['3 5 8>19:', '8/(5-5)+3', 'division by zero'],
    ['1 2 3>9:', '3*(2+1)/(3-3)*0+9', 'division by zero, extra numbers'],
    ['3 5 8>19:', '-5+3*8', 'unary minus'],
    ['3 5 8>19:', '3*08-5', 'leading zero'],
    ['3 5 8>19:', '3*8.0-5', 'decimal'],
    ['3 5 8>19:', '3*8-5)', 'unbalanced'],
    ['3 5 8>19:', 'hello', 'garbage'],
    ['3 5 8>19:', '', 'empty'],
  ])('rejects %s %s (%s)', async (p, a) => {
    expect(await score(p, a)).toBe(0);
  });

  it('refuses prompts of another format', () => {
    expect(() => task.reward().score([{ prompt: prompt('1+1='), completion: '2', finishReason: 'stop' }])).toThrow(/not a countdown prompt/);
  });
});

describe('countdown solver', () => {
  it('enumerates exactly the golden solution sets (python brute force)', () => {
    for (const g of golden.solutions) {
      expect(enumerateCountdownSolutions(g.numbers, g.target)).toEqual([...g.solutions].sort());
    }
  });

  it('finds the reachable targets of the golden number sets', () => {
    for (const g of golden.reachable) {
      const got = reachableValues(g.numbers)
        .filter((v) => v.isInteger() && v.num >= BigInt(g.min) && v.num <= BigInt(g.max))
        .map((v) => Number(v.num))
        .sort((a, b) => a - b);
      expect(got).toEqual(g.targets);
    }
  });

  it('every enumerated solution verifies', () => {
    for (const g of golden.solutions) {
      for (const s of enumerateCountdownSolutions(g.numbers, g.target)) expect(verifyCountdown(s, g.numbers, g.target)).toBe(true);
    }
  });

  it('draws uniformly among all distinct solutions (chi-square)', () => {
    const p = prompt('2 3 5 12>7:');
    const all = enumerateCountdownSolutions([2, 3, 5, 12], 7);
    expect(all.length).toBe(43);
    const rng = new Rng(7);
    const counts = new Map<string, number>();
    const draws = 43 * 200;
    for (let i = 0; i < draws; i++) {
      const s = task.solve!(p, () => rng.float())!;
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(all);
    const expected = draws / all.length;
    const chi2 = [...counts.values()].reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(chiSquareCritical(all.length - 1, 0.001));
  });

  it('returns undefined for a problem with no solution', () => {
    expect(task.solve!(prompt('2 2 6>3:'), Math.random)).toBeUndefined();
  });
});

describe('countdown generator', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(task.generate('train', 50, 1)).toEqual(task.generate('train', 50, 1));
    expect(task.generate('train', 50, 1)).not.toEqual(task.generate('train', 50, 2));
  });

  it('keeps train and test disjoint, even by number set, across seeds', () => {
    const key = (r: { metadata?: Record<string, unknown> }) => [...(r.metadata!.numbers as number[])].sort((a, b) => a - b).join(',');
    const train = [1, 2, 3].flatMap((s) => task.generate('train', 300, s));
    const test = [1, 2, 3].flatMap((s) => task.generate('test', 100, s));
    const trainKeys = new Set(train.map(key));
    expect(test.some((r) => trainKeys.has(key(r)))).toBe(false);
    expect(new Set(train.map((r) => r.prompt)).size).toBeGreaterThan(300);
  });

  it('generates distinct, solvable, short problems in the documented format', () => {
    const records = task.generate('train', 200, 3);
    expect(new Set(records.map((r) => r.id)).size).toBe(200);
    for (const r of records) {
      const p = parseCountdownPrompt(r.prompt)!;
      expect(p.numbers).toHaveLength(3);
      expect(p.numbers.every((n) => n >= 1 && n <= 12)).toBe(true);
      expect(p.target >= 1 && p.target <= 50).toBe(true);
      expect(verifyCountdown(r.reference!, p.numbers, p.target)).toBe(true);
      const s = task.solve!(r, Math.random)!;
      expect(verifyCountdown(s, p.numbers, p.target)).toBe(true);
      // bos + prompt + answer + eos fits a 64-token character model.
      expect(1 + r.prompt.length + s.length + 1).toBeLessThanOrEqual(64);
      for (const ch of r.prompt + s) expect(COUNTDOWN_ALPHABET).toContain(ch);
    }
  });

  it('supports four numbers and validates options', () => {
    const four = createCountdownTask({ numbers: 4, maxNumber: 20, maxTarget: 100 });
    for (const r of four.generate('test', 20, 5)) {
      const p = parseCountdownPrompt(r.prompt)!;
      expect(p.numbers).toHaveLength(4);
      expect(verifyCountdown(four.solve!(r, Math.random)!, p.numbers, p.target)).toBe(true);
    }
    expect(() => createCountdownTask({ numbers: 5 })).toThrow(/numbers/);
    expect(() => createCountdownTask({ minNumber: 9, maxNumber: 3 })).toThrow(/maxNumber: must be ≥ minNumber/);
    expect(() => task.generate('train', -1, 0)).toThrow(/count/);
  });
});
