import { defineComponent } from '@rftkit/core';
import type { LossTerm, Regularizer, UpdateContext } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { stopGradient } from './detach';

export const entropyBonusSchema = z.strictObject({
  coef: z.number().min(0).default(1e-3).describe('β: weight of the entropy bonus (loss −β·H)'),
});
export type EntropyBonusOptions = z.input<typeof entropyBonusSchema>;

/**
 * −β · aggregate(H): H is the exact per-token softmax entropy at T=1 (differentiable),
 * aggregated like the policy loss. The NLL estimator −log π(o_t) must not be used here:
 * its on-policy gradient is zero in expectation.
 */
export function entropyBonusTerm(context: UpdateContext, coef: number, prefix: string): LossTerm {
  return tf.tidy(() => {
    const entropy = context.aggregate(tf.mul(context.entropy, context.mask) as tf.Tensor2D);
    return {
      loss: tf.mul(entropy, -coef) as tf.Scalar,
      metrics: { [`${prefix}/entropy`]: tf.clone(stopGradient(entropy)) as tf.Scalar, [`${prefix}/coef`]: tf.scalar(coef) },
    };
  });
}

export const entropyBonusDefinition = defineComponent({
  id: 'entropy-bonus',
  family: 'regularizer',
  description: 'Entropy bonus: loss −β·H with exact per-token entropy, aggregated like the policy loss',
  schema: entropyBonusSchema,
  build: (options): Regularizer => ({
    id: 'entropy-bonus',
    lossTerms: (context) => entropyBonusTerm(context, options.coef, 'entropy_bonus'),
  }),
});

export function createEntropyBonus(options?: EntropyBonusOptions): Regularizer {
  return entropyBonusDefinition.create(options);
}
