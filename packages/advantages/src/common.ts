import { type AdvantageInput, type AdvantageResult, RftError, ShapeError } from '@rftkit/core';

/** Checks array lengths and finiteness before any math, so bad batches fail with a clear message. */
export function validateInput(where: string, input: AdvantageInput): void {
  const { rows, seqLen } = input;
  if (!Number.isInteger(rows) || rows < 0) throw new ShapeError(where, `rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(seqLen) || seqLen < 0) {
    throw new ShapeError(where, `seqLen must be a non-negative integer, got ${seqLen}`);
  }
  if (input.scores.length !== rows) throw new ShapeError(where, `scores has length ${input.scores.length}, expected rows = ${rows}`);
  if (input.groupIds.length !== rows) {
    throw new ShapeError(where, `groupIds has length ${input.groupIds.length}, expected rows = ${rows}`);
  }
  if (input.responseMask.length !== rows * seqLen) {
    throw new ShapeError(where, `responseMask has length ${input.responseMask.length}, expected rows*seqLen = ${rows * seqLen}`);
  }
  if (input.tokenRewards && input.tokenRewards.length !== rows * seqLen) {
    throw new ShapeError(where, `tokenRewards has length ${input.tokenRewards.length}, expected rows*seqLen = ${rows * seqLen}`);
  }
  for (let i = 0; i < rows; i++) {
    if (!Number.isFinite(input.scores[i]!)) {
      throw new RftError('E_REWARD', `${where}: scores[${i}] is ${input.scores[i]}; rewards must be finite numbers`);
    }
  }
}

/**
 * Outcome reward per row: the scalar score plus the row's masked token rewards (e.g. a KL
 * penalty folded into the reward), as verl sums `token_level_rewards` over the response.
 */
export function rowScores(input: AdvantageInput): Float64Array {
  const { rows, seqLen, responseMask, tokenRewards } = input;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = input.scores[r]!;
    if (tokenRewards) {
      for (let t = 0; t < seqLen; t++) s += tokenRewards[r * seqLen + t]! * responseMask[r * seqLen + t]!;
    }
    out[r] = s;
  }
  return out;
}

/** Row indices of each group, in first-appearance order. */
export function groupRows(groupIds: Int32Array): number[][] {
  const map = new Map<number, number[]>();
  for (let r = 0; r < groupIds.length; r++) {
    const id = groupIds[r]!;
    let list = map.get(id);
    if (!list) map.set(id, (list = []));
    list.push(r);
  }
  return [...map.values()];
}

export function mean(values: ArrayLike<number>, rows: readonly number[]): number {
  let s = 0;
  for (const r of rows) s += values[r]!;
  return rows.length ? s / rows.length : 0;
}

/** Standard deviation of `values[rows]`; unbiased (n−1) unless `biased`. 0 for fewer than 2 values. */
export function std(values: ArrayLike<number>, rows: readonly number[], biased: boolean): number {
  const n = rows.length;
  if (n < 2) return 0;
  const m = mean(values, rows);
  let ss = 0;
  for (const r of rows) ss += (values[r]! - m) ** 2;
  return Math.sqrt(ss / (biased ? n : n - 1));
}

/** Fraction of groups whose rewards are all equal (they carry no group-relative signal). */
export function zeroStdFraction(scores: ArrayLike<number>, groups: readonly number[][]): number {
  if (groups.length === 0) return 0;
  let zero = 0;
  for (const g of groups) {
    const first = scores[g[0]!]!;
    if (g.every((r) => scores[r] === first)) zero++;
  }
  return zero / groups.length;
}

/** Per-token array with each row's advantage on its response tokens, 0 elsewhere. */
export function broadcastRows(rowAdv: ArrayLike<number>, input: AdvantageInput): Float32Array {
  const { rows, seqLen, responseMask } = input;
  const out = new Float32Array(rows * seqLen);
  for (let r = 0; r < rows; r++) {
    const a = rowAdv[r]!;
    for (let t = 0; t < seqLen; t++) {
      const m = responseMask[r * seqLen + t]!;
      out[r * seqLen + t] = m > 0 ? a * m : 0;
    }
  }
  return out;
}

/**
 * Masked whitening over every response token of the batch, as verl's `masked_whiten`:
 * (x − mean) / sqrt(var + 1e-8) with the unbiased variance (Bessel's correction skipped for
 * a single token). Returns 0 outside the mask.
 */
export function whitenTokens(x: ArrayLike<number>, mask: ArrayLike<number>): Float64Array {
  let n = 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    n += mask[i]!;
    s += x[i]! * mask[i]!;
  }
  const out = new Float64Array(x.length);
  if (n === 0) return out;
  const m = s / (n + 1e-8);
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i]! - m) ** 2 * mask[i]!;
  let variance = ss / (n + 1e-8);
  if (n > 1) variance *= n / (n - 1);
  const inv = 1 / Math.sqrt(variance + 1e-8);
  for (let i = 0; i < x.length; i++) out[i] = mask[i]! > 0 ? (x[i]! - m) * inv * mask[i]! : 0;
  return out;
}

/** Packages per-token advantages with the shared metrics. */
export function result(
  advantages: Float32Array,
  input: AdvantageInput,
  scores: ArrayLike<number>,
  groups: readonly number[][],
  sequenceAdvantages?: Float32Array,
  extra: Record<string, number> = {},
): AdvantageResult {
  let n = 0;
  let s = 0;
  let max = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < advantages.length; i++) {
    if (!(input.responseMask[i]! > 0)) continue;
    const a = advantages[i]!;
    n++;
    s += a;
    if (a > max) max = a;
    if (a < min) min = a;
  }
  const m = n ? s / n : 0;
  let ss = 0;
  for (let i = 0; i < advantages.length; i++) if (input.responseMask[i]! > 0) ss += (advantages[i]! - m) ** 2;
  const metrics: Record<string, number> = {
    'groups/zero_std_frac': zeroStdFraction(scores, groups),
    'advantages/mean': m,
    'advantages/std': n ? Math.sqrt(ss / n) : 0,
    'advantages/max': n ? max : 0,
    'advantages/min': n ? min : 0,
    ...extra,
  };
  return sequenceAdvantages ? { advantages, sequenceAdvantages, metrics } : { advantages, metrics };
}
