import { describe, expect, it } from 'vitest';
import { chiSquareCritical } from './test-stats';

describe('chiSquareCritical', () => {
  it('matches scipy.stats.chi2.ppf within 1%', () => {
    // chi2.ppf(0.999, 42) = 76.0838, chi2.ppf(0.99, 9) = 21.666, chi2.ppf(0.95, 3) = 7.8147
    expect(Math.abs(chiSquareCritical(42, 0.001) / 76.0838 - 1)).toBeLessThan(0.01);
    expect(Math.abs(chiSquareCritical(9, 0.01) / 21.666 - 1)).toBeLessThan(0.01);
    expect(Math.abs(chiSquareCritical(3, 0.05) / 7.8147 - 1)).toBeLessThan(0.01);
  });
});
