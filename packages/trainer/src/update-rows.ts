import type { Policy, TrainBatch } from '@rftkit/core';
import { hostTokenStats } from './token-stats';

/** Rows `rows` of a `[rows * seqLen]` array, packed in that order. */
export function sliceRows<T extends Float32Array | Int32Array>(src: T, rows: readonly number[], seqLen: number): T {
  const dst = new (src.constructor as new (n: number) => T)(rows.length * seqLen);
  rows.forEach((r, i) => {
    dst.set(src.subarray(r * seqLen, (r + 1) * seqLen), i * seqLen);
  });
  return dst;
}

/** Writes `[rows.length * seqLen]` values into `dst` at the rows `rows`. */
export function scatterRows(dst: Float32Array, src: Float32Array, rows: readonly number[], seqLen: number): void {
  rows.forEach((r, i) => {
    dst.set(src.subarray(i * seqLen, (i + 1) * seqLen), r * seqLen);
  });
}

/** Response tokens of each row. */
export function responseTokensPerRow(batch: Pick<TrainBatch, 'rows' | 'seqLen' | 'responseMask'>): Float64Array {
  const { rows, seqLen } = batch;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let t = 0; t < seqLen; t++) n += batch.responseMask[r * seqLen + t]!;
    out[r] = n;
  }
  return out;
}

/**
 * Old log-probs `[rows * seqLen]` for every row outside `reuseRows`, from a forward pass
 * in micro-batches; `reuseRows` stay zero until their own first forward fills them.
 */
export function preUpdateLogp(
  policy: Policy,
  batch: Pick<TrainBatch, 'rows' | 'seqLen' | 'tokens' | 'attentionMask'>,
  reuseRows: readonly number[],
  microBatchSamples: number,
): Float32Array {
  const { rows, seqLen } = batch;
  const out = new Float32Array(rows * seqLen);
  const reused = new Set(reuseRows);
  const rest = Array.from({ length: rows }, (_, r) => r).filter((r) => !reused.has(r));
  if (rest.length === 0) return out;
  const sub = {
    rows: rest.length,
    seqLen,
    tokens: sliceRows(batch.tokens, rest, seqLen),
    attentionMask: sliceRows(batch.attentionMask, rest, seqLen),
  };
  scatterRows(out, hostTokenStats(policy, sub, 1, microBatchSamples).logp, rest, seqLen);
  return out;
}
