import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { chiSquareSurvival, chiSquareTest } from './stats';

const golden = JSON.parse(readFileSync(new URL('./__fixtures__/chi-square.json', import.meta.url), 'utf8')) as Array<{
  x: number;
  df: number;
  p: number;
}>;

it('chi-square survival matches scipy.stats.chi2.sf', () => {
  for (const { x, df, p } of golden) expect(chiSquareSurvival(x, df)).toBeCloseTo(p, 10);
});

it('chiSquareTest: exact counts give p = 1; impossible outcomes give p = 0', () => {
  expect(chiSquareTest([25, 50, 25], [0.25, 0.5, 0.25]).p).toBeCloseTo(1, 12);
  expect(chiSquareTest([25, 50, 1], [0.25, 0.75, 0]).p).toBe(0);
  expect(chiSquareTest([70, 30], [0.5, 0.5]).p).toBeLessThan(1e-4);
});
