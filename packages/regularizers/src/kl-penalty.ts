import { defineComponent, RftError } from '@rftkit/core';
import type { Regularizer } from '@rftkit/core';
import { createKlEstimator } from '@rftkit/losses';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { stopGradient } from './detach';

export const klPenaltySchema = z.strictObject({
  coef: z.number().min(0).default(1e-3).describe('β: weight of the KL term in the loss (verl kl_loss_coef default 0.001)'),
  estimator: z
    .enum(['k1', 'k2', 'k3', 'k3+', 'abs'])
    .default('k3')
    .describe("Per-token KL estimator (see @rftkit/losses): 'k3' is verl's low_var_kl"),
  clamp: z.number().gt(0).optional().describe("Clamp of the estimator's log-ratio (k3: default of the estimator)"),
});
export type KlPenaltyOptions = z.input<typeof klPenaltySchema>;

const ID = 'kl-penalty';

/** β · aggregate(KL_t(π_θ ‖ π_ref)) on response tokens, against a frozen reference policy. */
export const klPenaltyDefinition = defineComponent({
  id: ID,
  family: 'regularizer',
  description: 'KL penalty to a frozen reference policy in the loss (k1/k2/k3/k3+/abs estimators)',
  schema: klPenaltySchema,
  build: (options): Regularizer => {
    const estimator = createKlEstimator(
      options.clamp === undefined ? { estimator: options.estimator } : { estimator: options.estimator, clamp: options.clamp },
    );
    return {
      id: ID,
      needsReference: true,
      lossTerms(context) {
        const ref = context.refLogp;
        if (!ref) {
          throw new RftError(
            'E_CONFIG',
            `regularizer '${ID}' needs reference log-probs (refLogp) but the run has no reference policy`,
          );
        }
        return tf.tidy(() => {
          const kl = tf.mul(estimator.compute(context.logp, ref), context.mask) as tf.Tensor2D;
          const value = context.aggregate(kl);
          return {
            loss: tf.mul(value, options.coef) as tf.Scalar,
            metrics: { 'kl_penalty/kl': tf.clone(stopGradient(value)) as tf.Scalar, 'kl_penalty/coef': tf.scalar(options.coef) },
          };
        });
      },
    };
  },
});

export function createKlPenalty(options?: KlPenaltyOptions): Regularizer {
  return klPenaltyDefinition.create(options);
}
