import { defineComponent, Rng } from '@rftkit/core';
import type { Regularizer } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { maskCount, tokenCovariances } from './covariance';
import { createSelectionTracker } from './covariance-selection';
import { stopGradient } from './detach';

export const clipCovSchema = z
  .strictObject({
    clipRatio: z.number().gt(0).max(1).default(2e-4).describe('Fraction of response tokens whose gradient is removed (verl clip_cov_ratio)'),
    lowerBound: z.number().default(1).describe('Only tokens with covariance > lowerBound are candidates (verl clip_cov_lb)'),
    upperBound: z.number().default(5).describe('Only tokens with covariance < upperBound are candidates (verl clip_cov_ub)'),
    clipLow: z.number().min(0).default(0.2).describe('PPO ε_low of the run; tokens already clipped by PPO are not candidates'),
    clipHigh: z.number().min(0).default(0.2).describe('PPO ε_high of the run; tokens already clipped by PPO are not candidates'),
  })
  .refine((o) => o.lowerBound < o.upperBound, { message: 'lowerBound must be < upperBound', path: ['lowerBound'] });
export type ClipCovOptions = z.input<typeof clipCovSchema>;

/**
 * Which tokens Clip-Cov detaches, as verl's `compute_policy_loss_clip_cov`: among masked
 * tokens not already clipped by PPO whose covariance lies strictly inside (lb, ub), a
 * uniformly random subset of max(⌊clipRatio·N⌋, 1) tokens (N = masked tokens), or all of
 * them when there are fewer candidates.
 */
export function clipCovSelection(
  input: { advantages: ArrayLike<number>; logp: ArrayLike<number>; oldLogp: ArrayLike<number>; mask: ArrayLike<number> },
  options: { clipRatio: number; lowerBound: number; upperBound: number; clipLow: number; clipHigh: number },
  rng: Rng,
): number[] {
  const { advantages, logp, oldLogp, mask } = input;
  const cov = tokenCovariances(advantages, logp, mask);
  const candidates: number[] = [];
  for (let i = 0; i < mask.length; i++) {
    if (!(mask[i]! > 0)) continue;
    const a = advantages[i]!;
    const ratio = Math.exp(logp[i]! - oldLogp[i]!);
    const clippedByPpo = (a > 0 && ratio > 1 + options.clipHigh) || (a < 0 && ratio < 1 - options.clipLow);
    if (clippedByPpo) continue;
    if (cov[i]! > options.lowerBound && cov[i]! < options.upperBound) candidates.push(i);
  }
  const count = Math.max(Math.floor(options.clipRatio * maskCount(mask)), 1);
  if (candidates.length <= count) return candidates;
  // Partial Fisher–Yates: the first `count` entries are a uniform random subset.
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(candidates.length - i);
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  return candidates.slice(0, count).sort((a, b) => a - b);
}

const ID = 'clip-cov';

/**
 * Clip-Cov: removes the gradient of a few high-covariance tokens. The selected tokens keep
 * their loss value (stop-gradient) but contribute no gradient; the rest is unchanged.
 * The random choice is seeded by (run seed, 'clip-cov', step, call index within the step).
 */
export const clipCovDefinition = defineComponent({
  id: ID,
  family: 'regularizer',
  description: 'Clip-Cov: detach a random fraction of tokens whose logp–advantage covariance lies in [lb, ub] (Cui et al. 2025)',
  schema: clipCovSchema,
  build: (options): Regularizer => {
    const tracker = createSelectionTracker();
    return {
      id: ID,
      tokenLoss(tokenLoss, context) {
        const sel = tracker.select(context, (mask, call) =>
          clipCovSelection(
            { advantages: context.advantages.dataSync(), logp: context.logp.dataSync(), oldLogp: context.oldLogp.dataSync(), mask },
            options,
            Rng.derive(context.seed, ID, context.step, call),
          ),
        );
        return tf.tidy(() => {
          const s = tf.tensor2d(sel, tokenLoss.shape);
          const detached = stopGradient(tf.mul(tokenLoss, s));
          return tf.add(tf.mul(tokenLoss, tf.sub(1, s)), detached) as tf.Tensor2D;
        });
      },
      metrics: () => ({ 'clip_cov/frac_detached': tracker.fraction, 'clip_cov/tokens_detached': tracker.selected }),
    };
  },
});

export function createClipCov(options?: ClipCovOptions): Regularizer {
  return clipCovDefinition.create(options);
}
