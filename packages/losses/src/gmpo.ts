import { defineComponent, type PolicyLoss, type PolicyLossInput, type PolicyLossOutput } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkSameShape, clampedLogRatio, maskedFraction, maskedMeanScalar, ratioMetrics, stopGradient } from './tensor-utils';

export const gmpoSchema = z.strictObject({
  clipLow: z.number().positive().default(0.4).describe('Token log-ratios are clipped below at −clipLow (paper: ratio ≥ e^−0.4).'),
  clipHigh: z.number().positive().default(0.4).describe('Token log-ratios are clipped above at +clipHigh (paper: ratio ≤ e^0.4).'),
});

/**
 * GMPO (Geometric-Mean Policy Optimization, arXiv:2507.20673): the sequence ratio is the
 * geometric mean of token ratios clipped in log space, sign-aware like PPO:
 * ℓ_t = sgn(A)·min(sgn(A)·lr_t, sgn(A)·clip(lr_t, −ε_low, ε_high)), lr_t = logp_t − old_t,
 * R_i = exp(Σ_t ℓ_t m_t / (Σ_t m_t + 1e-8)), Ā_i = the row's mean advantage, L_i = −Ā_i·R_i.
 * Every response token of row i carries L_i, so `seq-mean-token-mean` gives the mean of L_i
 * over sequences (verl's `compute_policy_loss_geo_mean`); the log-ratio is not clamped there,
 * and the clip bounds it on the side that has a gradient.
 */
export const gmpoLoss = defineComponent({
  id: 'gmpo',
  family: 'loss',
  description: 'GMPO: clipped geometric mean of token ratios per sequence (use with seq-mean-token-mean).',
  schema: gmpoSchema,
  build: ({ clipLow, clipHigh }): PolicyLoss => ({
    id: 'gmpo',
    compute({ logp, oldLogp, advantages, mask }: PolicyLossInput): PolicyLossOutput {
      checkSameShape('loss:gmpo', { logp, oldLogp, advantages, mask });
      return tf.tidy(() => {
        const lr = tf.sub(logp, oldLogp);
        const sign = tf.sign(advantages);
        const lrClipped = tf.clipByValue(lr, -clipLow, clipHigh);
        const lrMin = tf.mul(sign, tf.minimum(tf.mul(sign, lr), tf.mul(sign, lrClipped)));
        const lengths = tf.add(tf.sum(mask, -1, true), 1e-8);
        const seqRatio = tf.exp(tf.div(tf.sum(tf.mul(lrMin, mask), -1, true), lengths));
        const seqAdv = tf.div(tf.sum(tf.mul(advantages, mask), -1, true), lengths);
        const seqLoss = tf.mul(tf.neg(seqAdv), seqRatio);
        const clipped = tf.notEqual(lr, lrClipped);
        const metrics: Record<string, tf.Scalar> = {
          ...ratioMetrics(clampedLogRatio(logp, oldLogp), mask),
          'clip/frac_high': maskedFraction(tf.logicalAnd(clipped, tf.greater(advantages, 0)), mask),
          'clip/frac_low': maskedFraction(tf.logicalAnd(clipped, tf.less(advantages, 0)), mask),
          'seq_ratio/mean': maskedMeanScalar(stopGradient(tf.mul(seqRatio, tf.onesLike(mask))), mask),
        };
        return { tokenLoss: tf.mul(seqLoss, mask) as tf.Tensor2D, metrics };
      });
    },
  }),
});

export const createGmpoLoss = gmpoLoss.create;
