/**
 * Unbiased pass@k estimator (Chen et al. 2021): the probability that at least one of k
 * samples drawn without replacement from n samples, c of them correct, is correct:
 * 1 − C(n−c, k)/C(n, k). Computed as 1 − Π_{i=n−c+1}^{n} (1 − k/i), which never forms
 * the (huge) binomials.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`passAtK: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(c) || c < 0 || c > n) throw new RangeError(`passAtK: c must be an integer in [0, n=${n}], got ${c}`);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`passAtK: k must be an integer in [1, n=${n}], got ${k}`);
  if (n - c < k) return 1;
  let allWrong = 1;
  for (let i = n - c + 1; i <= n; i++) allWrong *= 1 - k / i;
  return 1 - allWrong;
}
