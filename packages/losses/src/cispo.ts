import { defineComponent, type PolicyLoss, type PolicyLossInput, type PolicyLossOutput } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkSameShape, clampedLogRatio, maskedFraction, ratioMetrics, stopGradient } from './tensor-utils';

/**
 * CISPO: L = −sg(clip(ρ, 1−ε_low, 1+ε_high))·A·logp. The IS weight is clipped but carries no
 * gradient, so clipped tokens still get a (bounded) policy-gradient update, unlike PPO.
 */
export const cispoLoss = defineComponent({
  id: 'cispo',
  family: 'loss',
  description: 'CISPO: stop-gradient clipped importance weight × A × log π (no token is dropped).',
  schema: z
    .strictObject({
      clipLow: z
        .number()
        .min(0)
        .max(1)
        .default(1)
        .describe('ε_low: weight clipped below at 1 − ε_low (default 1 = no lower clip, as MiniMax-M1).'),
      clipHigh: z.number().min(0).default(0.28).describe('ε_high: weight clipped above at 1 + ε_high.'),
    }),
  build: ({ clipLow, clipHigh }): PolicyLoss => ({
    id: 'cispo',
    compute({ logp, oldLogp, advantages, mask }: PolicyLossInput): PolicyLossOutput {
      checkSameShape('loss:cispo', { logp, oldLogp, advantages, mask });
      return tf.tidy(() => {
        const lr = clampedLogRatio(logp, oldLogp);
        const ratio = stopGradient(tf.exp(lr));
        const weight = tf.clipByValue(ratio, 1 - clipLow, 1 + clipHigh);
        const loss = tf.mul(tf.neg(tf.mul(weight, advantages)), logp);
        const metrics: Record<string, tf.Scalar> = {
          ...ratioMetrics(lr, mask),
          'clip/frac_high': maskedFraction(tf.greater(ratio, 1 + clipHigh), mask),
          'clip/frac_low': maskedFraction(tf.less(ratio, 1 - clipLow), mask),
        };
        return { tokenLoss: tf.mul(loss, mask) as tf.Tensor2D, metrics };
      });
    },
  }),
});

export const createCispoLoss = cispoLoss.create;
