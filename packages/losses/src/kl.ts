import { type ComponentDefinition, defineComponent, type KlEstimator, ShapeError } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkSameShape, stopGradient } from './tensor-utils';

export const klEstimators = ['k1', 'k2', 'k3', 'k3+', 'abs'] as const;
export type KlEstimatorName = (typeof klEstimators)[number];

const clampField = z
  .number()
  .positive()
  .default(10)
  .describe('The log-ratio log π − log π_ref is clamped to ±clamp before the estimator (stability of k3).');

/**
 * Per-token KL(π‖π_ref) estimate from d = clamp(logp − ref, ±clamp):
 * k1 = d; k2 = d²/2; k3 = e^{−d} + d − 1 (≥ 0, low variance); k3+ = k3's value with k2's
 * gradient (straight-through: unbiased gradient, low-variance value); abs = |d|.
 */
export function klTensor(name: KlEstimatorName, logp: tf.Tensor, refLogp: tf.Tensor, clamp: number): tf.Tensor {
  return tf.tidy(() => {
    const d = tf.clipByValue(tf.sub(logp, refLogp), -clamp, clamp);
    switch (name) {
      case 'k1':
        return tf.clone(d);
      case 'k2':
        return tf.mul(tf.square(d), 0.5);
      case 'abs':
        return tf.abs(d);
      case 'k3':
        return tf.sub(tf.add(tf.exp(tf.neg(d)), d), 1);
      case 'k3+': {
        const k2 = tf.mul(tf.square(d), 0.5);
        const k3 = tf.sub(tf.add(tf.exp(tf.neg(d)), d), 1);
        return tf.add(tf.sub(k2, stopGradient(k2)), stopGradient(k3));
      }
    }
  });
}

/** Host-side version of `klTensor` for one token (same formulas, float64). */
export function klValue(name: KlEstimatorName, logp: number, refLogp: number, clamp: number): number {
  const d = Math.min(clamp, Math.max(-clamp, logp - refLogp));
  switch (name) {
    case 'k1':
      return d;
    case 'k2':
      return 0.5 * d * d;
    case 'abs':
      return Math.abs(d);
    case 'k3':
    case 'k3+':
      return Math.exp(-d) + d - 1;
  }
}

function estimator(name: KlEstimatorName, clamp: number): KlEstimator {
  return {
    id: name,
    compute(logp, refLogp) {
      checkSameShape(`kl:${name}`, { logp, refLogp });
      return klTensor(name, logp, refLogp, clamp) as tf.Tensor2D;
    },
  };
}

const DESCRIPTIONS: Record<KlEstimatorName, string> = {
  k1: 'k1 = log π − log π_ref (unbiased value, high variance, can be negative).',
  k2: 'k2 = ½(log π − log π_ref)² (its gradient is the unbiased KL gradient).',
  k3: 'k3 = e^{ref−logp} − (ref−logp) − 1 (non-negative, low variance; log-ratio clamped).',
  'k3+': "k3's value with k2's gradient (straight-through).",
  abs: '|log π − log π_ref|.',
};

export const klDefinitions: ComponentDefinition[] = klEstimators.map((name) =>
  defineComponent({
    id: name,
    family: 'kl',
    description: DESCRIPTIONS[name],
    schema: z.strictObject({ clamp: clampField }),
    build: ({ clamp }): KlEstimator => estimator(name, clamp),
  }),
) as ComponentDefinition[];

/** `createKlEstimator({ estimator, clamp })`. */
export const klFactory = defineComponent({
  id: 'kl',
  family: 'kl',
  description: 'Any KL estimator by option.',
  schema: z
    .strictObject({
      estimator: z.enum(klEstimators).default('k3').describe('Which estimator.'),
      clamp: clampField,
    }),
  build: ({ estimator: name, clamp }): KlEstimator => estimator(name, clamp),
});

export const createKlEstimator = klFactory.create;

const klRewardSchema = z
  .strictObject({
    coef: z.number().min(0).describe('KL coefficient β: reward −= β·KL on each response token.'),
    estimator: z.enum(klEstimators).default('k1').describe('Which estimator (k1 is the usual in-reward choice).'),
    clamp: clampField,
  });

/**
 * KL folded into the reward: per-token rewards −coef·KL(logp, refLogp) on response tokens
 * (0 elsewhere), for `AdvantageInput.tokenRewards`. `logp` are the sampling policy's
 * log-probs at T=1, `[rows*seqLen]` like the mask.
 */
export function klTokenRewards(
  logp: ArrayLike<number>,
  refLogp: ArrayLike<number>,
  mask: ArrayLike<number>,
  options: z.input<typeof klRewardSchema>,
): Float32Array {
  const parsed = klRewardSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ShapeError('klTokenRewards', `options.${issue.path.join('.')}: ${issue.message}`);
  }
  const { coef, estimator: name, clamp } = parsed.data;
  if (logp.length !== mask.length || refLogp.length !== mask.length) {
    throw new ShapeError(
      'klTokenRewards',
      `logp (${logp.length}), refLogp (${refLogp.length}) and mask (${mask.length}) must have the same length`,
    );
  }
  const out = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i]!;
    if (m > 0) out[i] = -coef * klValue(name, logp[i]!, refLogp[i]!, clamp) * m;
  }
  return out;
}
