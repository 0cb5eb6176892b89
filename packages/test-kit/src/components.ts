// Minimal spec implementations used by the trainer's own tests (the full catalogue lives
// in @rftkit/losses etc.). Formulas are the textbook ones so results can be checked by hand.
import * as tf from '@tensorflow/tfjs-core';
import type { AdvantageEstimator, LossAggregator, PolicyLoss, Regularizer, RewardFunction } from '@rftkit/core';

/** −A·logp per token. */
export const reinforceLoss: PolicyLoss = {
  id: 'test-reinforce',
  compute: ({ logp, advantages, mask }) => ({
    tokenLoss: tf.tidy(() => tf.mul(tf.neg(tf.mul(advantages, logp)), mask)) as tf.Tensor2D,
    metrics: {},
  }),
};

/** PPO-clip (ε = 0.2) reporting clip fractions. */
export const ppoClipLoss: PolicyLoss = {
  id: 'test-ppo',
  compute: ({ logp, oldLogp, advantages, mask }) =>
    tf.tidy(() => {
      const ratio = tf.exp(tf.sub(logp, oldLogp));
      const l1 = tf.mul(ratio, advantages);
      const l2 = tf.mul(tf.clipByValue(ratio, 0.8, 1.2), advantages);
      const tokenLoss = tf.mul(tf.neg(tf.minimum(l1, l2)), mask) as tf.Tensor2D;
      const n = tf.add(tf.sum(mask), 1e-8);
      const low = tf.div(tf.sum(tf.mul(tf.cast(tf.logicalAnd(tf.less(ratio, 0.8), tf.less(advantages, 0)), 'float32'), mask)), n);
      const high = tf.div(tf.sum(tf.mul(tf.cast(tf.logicalAnd(tf.greater(ratio, 1.2), tf.greater(advantages, 0)), 'float32'), mask)), n);
      return { tokenLoss, metrics: { 'clip/frac_low': low as tf.Scalar, 'clip/frac_high': high as tf.Scalar } };
    }),
};

/** Σ L·m / totalTokens of the global batch. */
export const tokenMean: LossAggregator = {
  id: 'test-token-mean',
  aggregate: (tokenLoss, mask, ctx) => tf.tidy(() => tf.div(tf.sum(tf.mul(tokenLoss, mask)), Math.max(ctx.totalTokens, 1))) as tf.Scalar,
};

/** Loss term −β·H (exact entropy), aggregated like the policy loss. */
export function entropyBonus(beta: number): Regularizer {
  return {
    id: 'test-entropy-bonus',
    lossTerms: (ctx) => {
      const h = ctx.aggregate(ctx.entropy);
      const loss = tf.tidy(() => tf.mul(h, -beta)) as tf.Scalar;
      return { loss, metrics: { 'test/entropy_term': h } };
    },
  };
}

/** (r − mean_g) / (std_g + 1e-6), unbiased std, broadcast over response tokens. */
export const groupAdvantage: AdvantageEstimator = {
  id: 'test-grpo',
  compute: ({ rows, seqLen, scores, groupIds, responseMask }) => {
    const groups = new Map<number, number[]>();
    for (let r = 0; r < rows; r++) groups.set(groupIds[r]!, [...(groups.get(groupIds[r]!) ?? []), r]);
    const seq = new Float32Array(rows);
    for (const members of groups.values()) {
      const xs = members.map((r) => scores[r]!);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
      for (const r of members) seq[r] = (scores[r]! - mean) / (std + 1e-6);
    }
    const advantages = new Float32Array(rows * seqLen);
    for (let i = 0; i < advantages.length; i++) advantages[i] = seq[Math.floor(i / seqLen)]! * responseMask[i]!;
    return { advantages, sequenceAdvantages: seq, metrics: {} };
  },
};

/** Fraction of the completion's characters equal to `target`, with a `hit` component. */
export function charReward(target: string): RewardFunction {
  return {
    id: 'test-char',
    score: (inputs) =>
      inputs.map(({ completion }) => {
        const n = [...completion].filter((c) => c === target).length;
        const score = completion.length ? n / completion.length : 0;
        return { score, components: { hit: n > 0 ? 1 : 0 } };
      }),
  };
}
