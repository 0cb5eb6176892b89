// Statistics for the sampler tests: Pearson's chi-square goodness of fit with its exact
// p-value (regularised upper incomplete gamma, Numerical Recipes §6.2).

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), |error| < 1e-13 for x > 0.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Q(a, x) = Γ(a, x) / Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnPre = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(lnPre);
  }
  // Lentz's continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(lnPre) * h;
}

/** Upper tail P(χ²_df ≥ x). */
export function chiSquareSurvival(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
}

/**
 * Pearson's test of observed counts against expected probabilities. Categories with
 * expected probability 0 must have no observations (otherwise p = 0).
 */
export function chiSquareTest(counts: ArrayLike<number>, probs: ArrayLike<number>): { statistic: number; df: number; p: number } {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i]!;
  let statistic = 0;
  let df = -1;
  for (let i = 0; i < counts.length; i++) {
    const e = n * probs[i]!;
    if (e === 0) {
      if (counts[i]! > 0) return { statistic: Number.POSITIVE_INFINITY, df: Math.max(df, 1), p: 0 };
      continue;
    }
    df += 1;
    statistic += (counts[i]! - e) ** 2 / e;
  }
  return { statistic, df, p: chiSquareSurvival(statistic, df) };
}
