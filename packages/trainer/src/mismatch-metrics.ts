import type { Metrics, TrainBatch } from '@rftkit/core';

/** Tokens whose ratio π_old/π_rollout lies outside [1/RATIO_BOUND, RATIO_BOUND] count in `rollout/ratio_outside_frac`. */
export const RATIO_BOUND = 2;

/**
 * How far the rollout's log-probs are from the trainer's old log-probs on the same tokens
 * (the training/inference mismatch that importance-sampling corrections target), over the
 * response tokens of every row:
 *
 * - `rollout/logp_abs_diff`: mean |old − rollout|;
 * - `rollout/kl`: k3 estimate of KL(π_rollout ‖ π_old) from the rollout's samples,
 *   mean of r − 1 − log r with r = π_old/π_rollout;
 * - `rollout/ratio_max`: largest r;
 * - `rollout/ratio_outside_frac`: fraction of tokens with r outside [1/2, 2].
 *
 * The rollout side is `logpT1` (the sampling policy's log-prob at T=1, untruncated), not
 * `behaviourLogp`: rows drawn at T ≠ 1 or with top-k/top-p (AEPO's tempered rows) have a
 * behaviour log-prob of another distribution by design, while `logpT1` and the old
 * log-probs are the same distribution computed twice, so their gap is the mismatch alone.
 * Absent when the batch has no response token or no `logpT1` for every token.
 */
export function rolloutMismatchMetrics(
  batch: Pick<TrainBatch, 'responseMask' | 'logpT1'>,
  oldLogp: Float32Array,
): Metrics {
  const { responseMask: mask, logpT1 } = batch;
  if (logpT1.length !== oldLogp.length || mask.length !== oldLogp.length) return {};
  let tokens = 0;
  let absDiff = 0;
  let kl = 0;
  let ratioMax = 0;
  let outside = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    const logRatio = oldLogp[i]! - logpT1[i]!;
    const ratio = Math.exp(logRatio);
    tokens++;
    absDiff += Math.abs(logRatio);
    kl += ratio - 1 - logRatio;
    if (ratio > ratioMax) ratioMax = ratio;
    if (ratio > RATIO_BOUND || ratio < 1 / RATIO_BOUND) outside++;
  }
  if (tokens === 0) return {};
  return {
    'rollout/logp_abs_diff': absDiff / tokens,
    'rollout/kl': kl / tokens,
    'rollout/ratio_max': ratioMax,
    'rollout/ratio_outside_frac': outside / tokens,
  };
}
