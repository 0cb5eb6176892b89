import { defineComponent, type PolicyLoss, type PolicyLossInput, type PolicyLossOutput } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkSameShape, clampedLogRatio, maskedFraction, maskedMeanScalar, ratioMetrics, stopGradient } from './tensor-utils';

export const sapoSchema = z.strictObject({
  tauPos: z.number().positive().default(1).describe('Gate temperature τ for tokens with A > 0 (paper: 1.0).'),
  tauNeg: z.number().positive().default(1.05).describe('Gate temperature τ for tokens with A ≤ 0 (paper: 1.05).'),
});

/**
 * SAPO (Soft Adaptive Policy Optimization, arXiv:2511.20347): the hard clip is replaced by
 * a smooth gate f(ρ) = (4/τ)·σ(τ(ρ − 1)), L = −f(ρ)·A, with τ = τ_pos where A > 0 and τ_neg
 * otherwise; ρ = exp(clamp(logp − old, ±20)). At ρ = 1 the gradient equals the plain policy
 * gradient; it decays smoothly as ρ leaves 1. As verl's `compute_policy_loss_sapo` and TRL's
 * `loss_type='sapo'`.
 */
export const sapoLoss = defineComponent({
  id: 'sapo',
  family: 'loss',
  description: 'SAPO: soft sigmoid gate (4/τ)·σ(τ(ρ−1)) instead of a hard clip, τ by the advantage sign.',
  schema: sapoSchema,
  build: ({ tauPos, tauNeg }): PolicyLoss => ({
    id: 'sapo',
    compute({ logp, oldLogp, advantages, mask }: PolicyLossInput): PolicyLossOutput {
      checkSameShape('loss:sapo', { logp, oldLogp, advantages, mask });
      return tf.tidy(() => {
        const lr = clampedLogRatio(logp, oldLogp);
        const ratio = tf.exp(lr);
        const positive = tf.greater(advantages, 0);
        const tau = tf.where(positive, tf.fill(advantages.shape, tauPos), tf.fill(advantages.shape, tauNeg));
        const gate = tf.div(tf.mul(tf.sigmoid(tf.mul(tau, tf.sub(ratio, 1))), 4), tau);
        const loss = tf.mul(tf.neg(gate), advantages);
        const metrics: Record<string, tf.Scalar> = {
          ...ratioMetrics(lr, mask),
          'gate/mean': maskedMeanScalar(stopGradient(gate), mask),
          'gate/frac_positive': maskedFraction(positive, mask),
        };
        return { tokenLoss: tf.mul(loss, mask) as tf.Tensor2D, metrics };
      });
    },
  }),
});

export const createSapoLoss = sapoLoss.create;
