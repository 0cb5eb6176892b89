import type { UpdateContext } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';

/** An UpdateContext over hand-written `[rows, seqLen]` arrays, token-mean aggregation. */
export function handContext(values: {
  logp: number[][];
  advantages: number[][];
  mask: number[][];
  oldLogp?: number[][];
  entropy?: number[][];
  refLogp?: number[][];
  step?: number;
  seed?: number;
}): UpdateContext {
  const mask = tf.tensor2d(values.mask);
  const totalTokens = values.mask.flat().reduce((a, b) => a + b, 0);
  return {
    step: values.step ?? 1,
    seed: values.seed ?? 0,
    logp: tf.tensor2d(values.logp),
    entropy: tf.tensor2d(values.entropy ?? values.mask.map((r) => r.map(() => 0))),
    oldLogp: tf.tensor2d(values.oldLogp ?? values.logp),
    refLogp: values.refLogp ? tf.tensor2d(values.refLogp) : undefined,
    advantages: tf.tensor2d(values.advantages),
    mask,
    aggregation: { totalTokens, totalSequences: values.mask.length, maxResponseLength: values.mask[0]!.length },
    aggregate: (v) => tf.tidy(() => tf.div(tf.sum(tf.mul(v, mask)), totalTokens) as tf.Scalar),
  };
}

export function disposeContext(ctx: UpdateContext): void {
  tf.dispose([ctx.logp, ctx.entropy, ctx.oldLogp, ctx.advantages, ctx.mask]);
  if (ctx.refLogp) ctx.refLogp.dispose();
}
