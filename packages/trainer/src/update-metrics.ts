import type { Metrics } from '@rftkit/core';

/** Weighted running means of scalar metrics. */
export class MetricMeans {
  readonly #sum = new Map<string, number>();
  readonly #weight = new Map<string, number>();
  add(key: string, value: number, weight: number): void {
    this.#sum.set(key, (this.#sum.get(key) ?? 0) + value * weight);
    this.#weight.set(key, (this.#weight.get(key) ?? 0) + weight);
  }
  result(): Metrics {
    const out: Metrics = {};
    for (const [k, s] of this.#sum) {
      const w = this.#weight.get(k)!;
      out[k] = w > 0 ? s / w : 0;
    }
    return out;
  }
}

/**
 * Sums over the response tokens of the first pass (epoch 0), all rows and rows whose
 * source is 'main' apart: entropy, nll and the reference k3 KL.
 */
export class FirstPassTotals {
  tokens = 0;
  entropy = 0;
  nll = 0;
  klRef = 0;
  mainTokens = 0;
  mainEntropy = 0;
  mainNll = 0;

  /** Adds one micro-batch's per-row masked sums (`perRow[i]` belongs to row `rows[i]`). */
  addRows(kind: 'entropy' | 'nll', perRow: ArrayLike<number>, rows: readonly number[], isMain: readonly boolean[]): void {
    let all = 0;
    let main = 0;
    rows.forEach((r, i) => {
      all += perRow[i]!;
      if (isMain[r]) main += perRow[i]!;
    });
    if (kind === 'entropy') {
      this.entropy += all;
      this.mainEntropy += main;
    } else {
      this.nll += all;
      this.mainNll += main;
    }
  }

  addTokens(rows: readonly number[], rowTokens: Float64Array, isMain: readonly boolean[]): void {
    this.tokens += rows.reduce((a, r) => a + rowTokens[r]!, 0);
    this.mainTokens += rows.reduce((a, r) => a + (isMain[r] ? rowTokens[r]! : 0), 0);
  }

  /** `entropy/exact`, `entropy/nll`, the `_main` pair when a main row has a token, `kl/ref` when asked. */
  metrics(withRef: boolean): Metrics {
    const tokens = Math.max(this.tokens, 1e-8);
    const out: Metrics = { 'entropy/exact': this.entropy / tokens, 'entropy/nll': this.nll / tokens };
    // Absent when no main row has a response token (every row added by regularizers).
    if (this.mainTokens > 0) {
      out['entropy/exact_main'] = this.mainEntropy / this.mainTokens;
      out['entropy/nll_main'] = this.mainNll / this.mainTokens;
    }
    if (withRef) out['kl/ref'] = this.klRef / tokens;
    return out;
  }
}
