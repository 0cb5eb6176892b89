import type { Metrics, TrainBatch } from '@rftkit/core';
import type { RolloutCorrectionConfig } from './config';

export interface LossCorrection {
  /** Per-token weight on the policy loss `[rows * seqLen]`; undefined: all 1. */
  tokenWeights?: Float32Array;
  /** The response mask the loss and its aggregation use `[rows * seqLen]`; undefined: `batch.responseMask`. */
  lossMask?: Float32Array;
  metrics: Metrics;
}

export interface LossCorrectionOptions {
  rolloutCorrection?: RolloutCorrectionConfig;
  /** Mask rows whose `finishReason` is 'length' out of the loss. */
  overlongFilter?: boolean;
}

/** Whether any correction or filter is on (otherwise the update runs exactly as without them). */
export function correctionEnabled(options: LossCorrectionOptions): boolean {
  const rc = options.rolloutCorrection;
  return Boolean(options.overlongFilter || rc?.tokenIs || rc?.seqMask || rc?.tokenMask);
}

/**
 * The loss weights and masks of the rollout corrections and the overlong filter, from the
 * behaviour log-probs μ = `logpT1` (the engine's T=1 untruncated log-probs, the same
 * distribution as π_old computed by the engine; see mismatch-metrics.ts) and the trainer's
 * old log-probs π_old. They depend on μ and π_old only, never on the current policy, so
 * every epoch and mini-batch of a step reuses them.
 *
 * - token TIS: w = min(exp(π_old − μ), C) on each token (TRL's
 *   `vllm_importance_sampling_correction`, verl's `rollout_is_level: token` with `rollout_is_mode: truncate`);
 * - sequence mask: a row is dropped when exp(mean_t (π_old − μ)) leaves [lo, hi] (verl's
 *   geometric rejection sampling);
 * - token mask (IcePop): a token is dropped when exp(π_old − μ) leaves [1/c, c];
 * - overlong filter: rows cut at `maxNewTokens` are dropped (DAPO).
 *
 * Metrics over response tokens (rows) of the batch: `rollout_correction/weight_mean` (mean
 * token weight over the tokens that stay), `rollout_correction/masked_token_frac`,
 * `rollout_correction/masked_seq_frac` (rows with no token left, overlong rows included),
 * `overlong/masked_rows` and `overlong/masked_frac`.
 */
export function lossCorrection(
  batch: Pick<TrainBatch, 'rows' | 'seqLen' | 'responseMask' | 'logpT1' | 'finishReason'>,
  oldLogp: Float32Array,
  options: LossCorrectionOptions,
): LossCorrection {
  if (!correctionEnabled(options)) return { metrics: {} };
  const { rows, seqLen, responseMask } = batch;
  const rc = options.rolloutCorrection;
  const logRatio = (i: number) => oldLogp[i]! - batch.logpT1[i]!;
  const lossMask = Float32Array.from(responseMask);
  const tokenWeights = rc?.tokenIs ? new Float32Array(rows * seqLen).fill(1) : undefined;
  let tokens = 0;
  let maskedTokens = 0;
  let seqs = 0;
  let maskedSeqs = 0;
  let weightSum = 0;
  let overlong = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * seqLen;
    let n = 0;
    let sum = 0;
    for (let t = 0; t < seqLen; t++) {
      if (responseMask[base + t] === 0) continue;
      n++;
      sum += logRatio(base + t);
    }
    if (n === 0) continue;
    seqs++;
    tokens += n;
    let dropRow = false;
    if (options.overlongFilter && batch.finishReason[r] === 'length') {
      dropRow = true;
      overlong++;
    }
    if (rc?.seqMask) {
      const geo = Math.exp(sum / n);
      if (geo < rc.seqMaskLow || geo > rc.seqMaskHigh) dropRow = true;
    }
    let kept = 0;
    for (let t = 0; t < seqLen; t++) {
      const i = base + t;
      if (responseMask[i] === 0) continue;
      const ratio = Math.exp(logRatio(i));
      if (dropRow || (rc?.tokenMask && (ratio > rc.tokenMaskBound || ratio < 1 / rc.tokenMaskBound))) {
        lossMask[i] = 0;
        maskedTokens++;
        continue;
      }
      kept++;
      if (tokenWeights) {
        tokenWeights[i] = Math.min(ratio, rc!.tokenIsCap);
        weightSum += tokenWeights[i]!;
      } else {
        weightSum += 1;
      }
    }
    if (kept === 0) maskedSeqs++;
  }
  const metrics: Metrics = {
    'rollout_correction/weight_mean': tokens - maskedTokens > 0 ? weightSum / (tokens - maskedTokens) : 0,
    'rollout_correction/masked_token_frac': tokens ? maskedTokens / tokens : 0,
    'rollout_correction/masked_seq_frac': seqs ? maskedSeqs / seqs : 0,
  };
  if (options.overlongFilter) {
    metrics['overlong/masked_rows'] = overlong;
    metrics['overlong/masked_frac'] = seqs ? overlong / seqs : 0;
  }
  const out: LossCorrection = { metrics, lossMask };
  if (tokenWeights) out.tokenWeights = tokenWeights;
  return out;
}
