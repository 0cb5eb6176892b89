import { defineComponent } from '@rftkit/core';
import type { Regularizer } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { maskCount, tokenCovariances, topKIndices } from './covariance';
import { createSelectionTracker } from './covariance-selection';

export const klCovSchema = z.strictObject({
  kRatio: z.number().gt(0).max(1).default(2e-4).describe('Fraction of response tokens (largest covariance) that get the KL term (verl kl_cov_ratio)'),
  coef: z.number().min(0).default(1).describe('Weight of |logp − oldLogp| on the selected tokens (verl ppo_kl_coef)'),
});
export type KlCovOptions = z.input<typeof klCovSchema>;

/** The max(⌊kRatio·N⌋, 1) masked tokens with the largest covariance (verl `compute_policy_loss_kl_cov`). */
export function klCovSelection(
  input: { advantages: ArrayLike<number>; logp: ArrayLike<number>; mask: ArrayLike<number> },
  kRatio: number,
): number[] {
  const n = maskCount(input.mask);
  if (n === 0) return [];
  const cov = tokenCovariances(input.advantages, input.logp, input.mask);
  return topKIndices(cov, Math.max(1, Math.floor(n * kRatio))).sort((a, b) => a - b);
}

const ID = 'kl-cov';

/**
 * KL-Cov: adds coef·|logp − oldLogp| to the per-token loss of the top-kRatio tokens by
 * covariance, holding the tokens that drive entropy collapse near the old policy. It
 * adds to whatever per-token policy loss the run uses (verl pairs it with the unclipped
 * ratio loss; pair it with `reinforce` or PPO-clip as you prefer).
 */
export const klCovDefinition = defineComponent({
  id: ID,
  family: 'regularizer',
  description: 'KL-Cov: |logp − oldLogp| penalty on the tokens with the largest logp–advantage covariance (Cui et al. 2025)',
  schema: klCovSchema,
  build: (options): Regularizer => {
    const tracker = createSelectionTracker();
    return {
      id: ID,
      tokenLoss(tokenLoss, context) {
        const sel = tracker.select(context, (mask) =>
          klCovSelection({ advantages: context.advantages.dataSync(), logp: context.logp.dataSync(), mask }, options.kRatio),
        );
        return tf.tidy(() => {
          const s = tf.tensor2d(sel, tokenLoss.shape);
          const kl = tf.abs(tf.sub(context.logp, context.oldLogp));
          return tf.add(tokenLoss, tf.mul(tf.mul(kl, s), options.coef)) as tf.Tensor2D;
        });
      },
      metrics: () => ({ 'kl_cov/frac_selected': tracker.fraction, 'kl_cov/tokens_selected': tracker.selected }),
    };
  },
});

export function createKlCov(options?: KlCovOptions): Regularizer {
  return klCovDefinition.create(options);
}
