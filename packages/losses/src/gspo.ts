import { defineComponent, type PolicyLoss, type PolicyLossInput, type PolicyLossOutput } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkSameShape, clampedLogRatio, maskedFraction, maskedMeanScalar, ratioMetrics, stopGradient } from './tensor-utils';

/**
 * GSPO: sequence-level ratio s_i = exp(mean_t(logp − old)) (geometric mean of token ratios),
 * clipped PPO-style. Token form (verl): log s_{i,t} = sg(log s_i) + logp_t − sg(logp_t), so each
 * token's value is s_i and its gradient is s_i·∇logp_t; aggregated with `seq-mean-token-mean`
 * this is exactly ∇ of the sequence objective. log s is capped at 10 against overflow.
 */
export const gspoLoss = defineComponent({
  id: 'gspo',
  family: 'loss',
  description: 'GSPO: clipped sequence-level geometric-mean ratio (use with seq-mean-token-mean).',
  schema: z
    .strictObject({
      clipLow: z.number().min(0).max(1).default(3e-4).describe('ε_low on the sequence ratio (paper: 3e-4).'),
      clipHigh: z.number().min(0).default(4e-4).describe('ε_high on the sequence ratio (paper: 4e-4).'),
    }),
  build: ({ clipLow, clipHigh }): PolicyLoss => ({
    id: 'gspo',
    compute({ logp, oldLogp, advantages, mask }: PolicyLossInput): PolicyLossOutput {
      checkSameShape('loss:gspo', { logp, oldLogp, advantages, mask });
      return tf.tidy(() => {
        const lpConst = stopGradient(logp);
        const lengths = tf.maximum(tf.sum(mask, -1, true), 1);
        const seqLogRatio = tf.div(tf.sum(tf.mul(tf.sub(lpConst, oldLogp), mask), -1, true), lengths);
        const logS = tf.minimum(tf.add(tf.sub(logp, lpConst), seqLogRatio), 10);
        const s = tf.exp(logS);
        const pg1 = tf.mul(tf.neg(advantages), s);
        const pg2 = tf.mul(tf.neg(advantages), tf.clipByValue(s, 1 - clipLow, 1 + clipHigh));
        const loss = tf.maximum(pg1, pg2);
        const sConst = stopGradient(s);
        const metrics: Record<string, tf.Scalar> = {
          ...ratioMetrics(clampedLogRatio(logp, oldLogp), mask),
          'clip/frac_high': maskedFraction(tf.logicalAnd(tf.greater(advantages, 0), tf.greater(sConst, 1 + clipHigh)), mask),
          'clip/frac_low': maskedFraction(tf.logicalAnd(tf.less(advantages, 0), tf.less(sConst, 1 - clipLow)), mask),
          'seq_ratio/mean': maskedMeanScalar(sConst, mask),
        };
        return { tokenLoss: tf.mul(loss, mask) as tf.Tensor2D, metrics };
      });
    },
  }),
});

export const createGspoLoss = gspoLoss.create;
