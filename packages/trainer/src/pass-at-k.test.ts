import { describe, expect, it } from 'vitest';
import { passAtK } from './pass-at-k';

function binom(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Enumerates every k-subset of n samples (the first c correct) and counts those with a correct one. */
function bruteForce(n: number, c: number, k: number): number {
  let hit = 0;
  let total = 0;
  const visit = (start: number, left: number, anyCorrect: boolean) => {
    if (left === 0) {
      total++;
      if (anyCorrect) hit++;
      return;
    }
    for (let i = start; i <= n - left; i++) visit(i + 1, left - 1, anyCorrect || i < c);
  };
  visit(0, k, false);
  return hit / total;
}

describe('passAtK', () => {
  it('matches hand values', () => {
    expect(passAtK(1, 1, 1)).toBe(1);
    expect(passAtK(1, 0, 1)).toBe(0);
    expect(passAtK(4, 1, 1)).toBeCloseTo(0.25, 12);
    // 1 − C(2,2)/C(4,2) = 1 − 1/6
    expect(passAtK(4, 2, 2)).toBeCloseTo(5 / 6, 12);
    // 1 − C(3,2)/C(5,2) = 1 − 3/10
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 12);
    expect(passAtK(10, 3, 8)).toBe(1); // n − c < k: every k-subset holds a correct one
    expect(passAtK(10, 0, 5)).toBe(0);
  });

  it('equals pass@1 = c/n', () => {
    for (let n = 1; n <= 12; n++) for (let c = 0; c <= n; c++) expect(passAtK(n, c, 1)).toBeCloseTo(c / n, 12);
  });

  it('matches brute-force enumeration of k-subsets', () => {
    for (let n = 1; n <= 9; n++)
      for (let c = 0; c <= n; c++)
        for (let k = 1; k <= n; k++) expect(passAtK(n, c, k)).toBeCloseTo(bruteForce(n, c, k), 12);
  });

  it('stays accurate where binomials overflow', () => {
    // C(2000, 1000) overflows float64; the product form does not.
    const v = passAtK(2000, 1, 1000);
    expect(v).toBeCloseTo(0.5, 12);
    expect(passAtK(200, 10, 20)).toBeCloseTo(1 - binom(190, 20) / binom(200, 20), 10);
  });

  it('rejects invalid arguments', () => {
    expect(() => passAtK(4, 5, 1)).toThrow(/c must be/);
    expect(() => passAtK(4, 1, 5)).toThrow(/k must be/);
    expect(() => passAtK(0, 0, 1)).toThrow(/n must be/);
  });
});
