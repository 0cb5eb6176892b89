import { defineComponent, type PolicyLoss, type PolicyLossInput, type PolicyLossOutput } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkSameShape, clampedLogRatio, ratioMetrics } from './tensor-utils';

/** Plain REINFORCE: L = −A·logp (on-policy; no ratio, no clipping). */
export const reinforceLoss = defineComponent({
  id: 'reinforce',
  family: 'loss',
  description: 'Plain REINFORCE: −A·log π (no importance ratio, no clipping).',
  schema: z.strictObject({}),
  build: (): PolicyLoss => ({
    id: 'reinforce',
    compute({ logp, oldLogp, advantages, mask }: PolicyLossInput): PolicyLossOutput {
      checkSameShape('loss:reinforce', { logp, oldLogp, advantages, mask });
      return tf.tidy(() => ({
        tokenLoss: tf.mul(tf.mul(tf.neg(advantages), logp), mask) as tf.Tensor2D,
        metrics: ratioMetrics(clampedLogRatio(logp, oldLogp), mask),
      }));
    },
  }),
});

export const createReinforceLoss = reinforceLoss.create;
