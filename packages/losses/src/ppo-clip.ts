import { defineComponent, type PolicyLoss, type PolicyLossInput, type PolicyLossOutput } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkSameShape, clampedLogRatio, maskedFraction, ratioMetrics } from './tensor-utils';

export const ppoClipSchema = z
  .strictObject({
    clipLow: z.number().min(0).max(1).default(0.2).describe('ε_low: the ratio is clipped below at 1 − ε_low.'),
    clipHigh: z.number().min(0).default(0.2).describe('ε_high: the ratio is clipped above at 1 + ε_high (clip-higher: > ε_low).'),
    dualClip: z
      .union([z.number().gt(1), z.literal(false)])
      .default(3)
      .describe('Dual-clip c > 1: for A < 0 the loss is bounded by −c·A; false disables it.'),
  });

/**
 * PPO-clip: L = max(−A·ρ, −A·clip(ρ, 1−ε_low, 1+ε_high)), ρ = exp(clamp(logp − old, ±20));
 * with dual-clip, L = min(L, −c·A) where A < 0. Matches verl's `compute_policy_loss_vanilla`.
 */
export const ppoClipLoss = defineComponent({
  id: 'ppo-clip',
  family: 'loss',
  description: 'PPO clipped surrogate with separate low/high clip (clip-higher) and optional dual-clip.',
  schema: ppoClipSchema,
  build: ({ clipLow, clipHigh, dualClip }): PolicyLoss => ({
    id: 'ppo-clip',
    compute({ logp, oldLogp, advantages, mask }: PolicyLossInput): PolicyLossOutput {
      checkSameShape('loss:ppo-clip', { logp, oldLogp, advantages, mask });
      return tf.tidy(() => {
        const lr = clampedLogRatio(logp, oldLogp);
        const ratio = tf.exp(lr);
        const pg1 = tf.mul(tf.neg(advantages), ratio);
        const pg2 = tf.mul(tf.neg(advantages), tf.clipByValue(ratio, 1 - clipLow, 1 + clipHigh));
        const clipped = tf.maximum(pg1, pg2);
        let loss = clipped;
        const negative = tf.less(advantages, 0);
        const metrics: Record<string, tf.Scalar> = {
          ...ratioMetrics(lr, mask),
          'clip/frac_high': maskedFraction(tf.logicalAnd(tf.greater(advantages, 0), tf.greater(ratio, 1 + clipHigh)), mask),
          'clip/frac_low': maskedFraction(tf.logicalAnd(negative, tf.less(ratio, 1 - clipLow)), mask),
        };
        if (dualClip !== false) {
          const bound = tf.mul(tf.neg(advantages), dualClip);
          loss = tf.where(negative, tf.minimum(bound, clipped), clipped);
          metrics['clip/frac_dual'] = maskedFraction(tf.logicalAnd(negative, tf.greater(clipped, bound)), mask);
        }
        return { tokenLoss: tf.mul(loss, mask) as tf.Tensor2D, metrics };
      });
    },
  }),
});

export const createPpoClipLoss = ppoClipLoss.create;
