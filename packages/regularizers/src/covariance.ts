/**
 * Per-token centred covariance between log-prob and advantage (Cui et al., "The Entropy
 * Mechanism of RL for Reasoning LMs"): cov_t = (A_t − mean A)·(logp_t − mean logp), means
 * over the masked tokens. Tokens with a large covariance are the ones whose updates drive
 * entropy down. Host-side: selection is discrete and not differentiated.
 */
export function tokenCovariances(advantages: ArrayLike<number>, logp: ArrayLike<number>, mask: ArrayLike<number>): Float64Array {
  const n = mask.length;
  let count = 0;
  let sumA = 0;
  let sumL = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]! > 0) {
      count++;
      sumA += advantages[i]!;
      sumL += logp[i]!;
    }
  }
  const out = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
  if (count === 0) return out;
  const meanA = sumA / count;
  const meanL = sumL / count;
  for (let i = 0; i < n; i++) if (mask[i]! > 0) out[i] = (advantages[i]! - meanA) * (logp[i]! - meanL);
  return out;
}

/** Indices of the `k` largest finite values (ties: lower index first). */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) idx.push(i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  return idx.slice(0, Math.max(0, k));
}

/** Counts masked tokens. */
export function maskCount(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]! > 0) n++;
  return n;
}
