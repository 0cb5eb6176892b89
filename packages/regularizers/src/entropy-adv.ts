import { defineComponent } from '@rftkit/core';
import type { Regularizer } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { stopGradient } from './detach';

export const entropyAdvSchema = z.strictObject({
  alpha: z.number().min(0).default(0.4).describe('α: scale of the entropy term α·H_t'),
  kappa: z.number().gt(1).default(2).describe('κ > 1: the bonus is capped at |A_t|/κ, so no advantage changes sign'),
});
export type EntropyAdvOptions = z.input<typeof entropyAdvSchema>;

/**
 * Entropy-based advantage shaping (Cheng et al., arXiv 2506.14758):
 * A'_t = A_t + min(α·H_t, |A_t|/κ) with H_t detached. The cap keeps |bonus| < |A_t| for
 * κ > 1, so a negative advantage stays negative; zero advantages (and padding) stay zero.
 */
export const entropyAdvDefinition = defineComponent({
  id: 'entropy-adv',
  family: 'regularizer',
  description: 'Entropy-based advantage shaping: A + min(α·H.detach(), |A|/κ) (Cheng et al. 2025)',
  schema: entropyAdvSchema,
  build: (options): Regularizer => ({
    id: 'entropy-adv',
    tokenAdvantages: (context) =>
      tf.tidy(() => {
        const h = stopGradient(context.entropy);
        const a = context.advantages;
        const bonus = tf.minimum(tf.mul(h, options.alpha), tf.div(tf.abs(a), options.kappa));
        return tf.add(a, tf.mul(bonus, context.mask)) as tf.Tensor2D;
      }),
  }),
});

export function createEntropyAdv(options?: EntropyAdvOptions): Regularizer {
  return entropyAdvDefinition.create(options);
}
