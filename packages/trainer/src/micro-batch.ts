import * as tf from '@tensorflow/tfjs-core';
import type {
  AggregationContext,
  LossAggregator,
  Policy,
  PolicyLoss,
  Regularizer,
  StepInfo,
  TrainBatch,
  UpdateContext,
} from '@rftkit/core';
import { stopGradient } from '@rftkit/losses';
import { checkShape, componentName, guard } from './stages/component-checks';
import { sliceRows } from './update-rows';

export interface MicroBatchInput {
  policy: Policy;
  loss: PolicyLoss;
  aggregator: LossAggregator;
  regularizers: readonly Regularizer[];
  variables: readonly tf.Variable[];
  batch: TrainBatch;
  /** Rows of this micro-batch. */
  rows: readonly number[];
  /** Response tokens of these rows (the `approx_kl` denominator). */
  tokens: number;
  /** Sizes of the whole mini-batch, for aggregation. */
  aggregation: AggregationContext;
  /** Old log-probs `[batch.rows * seqLen]`; undefined: this forward is the old policy's (its detached logp is used). */
  oldLogp: Float32Array | undefined;
  refLogp: Float32Array | undefined;
  /** Rollout-correction weight per token on the policy loss `[batch.rows * seqLen]` (rollout-correction.ts). */
  tokenWeights?: Float32Array;
  /** Response mask of the loss `[batch.rows * seqLen]` when corrections mask tokens; entropy and KL metrics keep the batch's. */
  lossMask?: Float32Array;
  /** First pass: also return per-row entropy/nll sums and the reference KL sum. */
  firstPass: boolean;
  info: StepInfo;
}

export interface MicroBatchResult {
  /** The aggregated loss of this micro-batch (its share of the mini-batch's). */
  loss: number;
  /** Gradients by variable name (owned by the caller). */
  grads: tf.NamedTensorMap;
  /** Policy-loss metrics and `approx_kl`, means over this micro-batch. */
  metrics: Array<[string, number]>;
  /** Loss-term metrics of regularizers, read like the loss terms. */
  terms: Array<[string, number]>;
  /** First pass: per-row masked sums of entropy and −logp. */
  rowEntropy?: Float32Array;
  rowNll?: Float32Array;
  /** First pass with a reference: Σ k3(ref ‖ policy) over response tokens. */
  klRef?: number;
  /** `[rows.length * seqLen]` detached log-probs, when `oldLogp` was undefined. */
  logp?: Float32Array;
}

function read(t: tf.Tensor): number {
  const x = t.dataSync()[0]!;
  t.dispose();
  return x;
}

/**
 * One forward/backward over a micro-batch: token stats, regularizer advantage shaping,
 * the policy loss (row-weighted), regularizer token losses, aggregation, loss terms.
 * Every component's tensor is checked for the shape the next one needs (`ShapeError`
 * naming the component), and an exception inside a component names it and the step.
 */
export function microBatchGradients(input: MicroBatchInput): MicroBatchResult {
  const { policy, loss, aggregator, regularizers, batch, rows: micro, aggregation, info } = input;
  const { seqLen } = batch;
  const { step } = info;
  const tokenShape = [micro.length, seqLen];
  const lossName = componentName('policy loss', loss.id);
  const aggregatorName = componentName('aggregation', aggregator.id);
  const aggregate = (v: tf.Tensor2D, mask: tf.Tensor2D) => {
    const total = guard(aggregatorName, step, () => aggregator.aggregate(v, mask, aggregation));
    checkShape(aggregatorName, step, 'the aggregated loss', total, []);
    return total;
  };
  const kept: Array<[string, tf.Scalar]> = [];
  const keptTerms: Array<[string, tf.Scalar]> = [];
  const keptRows: Partial<Record<'entropy' | 'nll', tf.Tensor1D>> = {};
  let keptLogp: tf.Tensor | undefined;
  let keptKlRef: tf.Scalar | undefined;
  let failure: { error: unknown } | undefined;
  const { value, grads } = tf.tidy(() => {
    const n = micro.length;
    const shape: [number, number] = [n, seqLen];
    const tokens = tf.tensor2d(sliceRows(batch.tokens, micro, seqLen), shape, 'int32');
    const attentionMask = tf.tensor2d(sliceRows(batch.attentionMask, micro, seqLen), shape);
    const responseMask = tf.tensor2d(sliceRows(batch.responseMask, micro, seqLen), shape);
    const mask = input.lossMask ? tf.tensor2d(sliceRows(input.lossMask, micro, seqLen), shape) : responseMask;
    const tokenWeights = input.tokenWeights ? tf.tensor2d(sliceRows(input.tokenWeights, micro, seqLen), shape) : undefined;
    const hostOld = input.oldLogp ? tf.tensor2d(sliceRows(input.oldLogp, micro, seqLen), shape) : undefined;
    const refLogp = input.refLogp ? tf.tensor2d(sliceRows(input.refLogp, micro, seqLen), shape) : undefined;
    const advantages = tf.tensor2d(sliceRows(batch.advantages, micro, seqLen), shape);
    const rowWeights = batch.rowWeights ? tf.tensor2d(Float32Array.from(micro, (r) => batch.rowWeights![r]!), [n, 1]) : undefined;
    const lossOf = (stats: { logp: tf.Tensor2D; entropy: tf.Tensor2D }): tf.Scalar => {
      const oldLogp = hostOld ?? (stopGradient(stats.logp) as tf.Tensor2D);
      if (!hostOld) keptLogp = tf.keep(oldLogp);
      const ctx: UpdateContext = {
        ...info,
        logp: stats.logp,
        entropy: stats.entropy,
        oldLogp,
        refLogp,
        advantages,
        mask,
        aggregation,
        aggregate: (v) => aggregate(v, mask),
      };
      for (const reg of regularizers) {
        if (!reg.tokenAdvantages) continue;
        const name = componentName('regularizer', reg.id);
        ctx.advantages = guard(name, step, () => reg.tokenAdvantages!({ ...ctx }));
        checkShape(name, step, 'tokenAdvantages', ctx.advantages, tokenShape);
      }
      const out = guard(lossName, step, () => loss.compute({ logp: ctx.logp, oldLogp, advantages: ctx.advantages, mask }));
      checkShape(lossName, step, 'tokenLoss', out.tokenLoss, tokenShape);
      for (const [k, v] of Object.entries(out.metrics)) kept.push([k, tf.keep(v)]);
      let tokenLoss = rowWeights ? tf.mul(out.tokenLoss, rowWeights) : out.tokenLoss;
      if (tokenWeights) tokenLoss = tf.mul(tokenLoss, tokenWeights);
      for (const reg of regularizers) {
        if (!reg.tokenLoss) continue;
        const name = componentName('regularizer', reg.id);
        const input = tokenLoss as tf.Tensor2D;
        tokenLoss = guard(name, step, () => reg.tokenLoss!(input, { ...ctx }));
        checkShape(name, step, 'tokenLoss', tokenLoss, tokenShape);
      }
      let total = aggregate(tokenLoss as tf.Tensor2D, mask);
      for (const reg of regularizers) {
        if (!reg.lossTerms) continue;
        const name = componentName('regularizer', reg.id);
        const term = guard(name, step, () => reg.lossTerms!({ ...ctx }));
        checkShape(name, step, 'lossTerms().loss', term.loss, []);
        total = tf.add(total, term.loss);
        for (const [k, v] of Object.entries(term.metrics ?? {})) keptTerms.push([k, tf.keep(v)]);
      }
      if (!('approx_kl' in out.metrics)) {
        const d = tf.sub(stats.logp, oldLogp);
        const kl = tf.div(tf.sum(tf.mul(tf.mul(tf.square(d), 0.5), mask)), Math.max(input.tokens, 1e-8));
        kept.push(['approx_kl', tf.keep(kl as tf.Scalar)]);
      }
      if (input.firstPass) {
        keptRows.entropy = tf.keep(tf.sum(tf.mul(stats.entropy, responseMask), 1) as tf.Tensor1D);
        keptRows.nll = tf.keep(tf.sum(tf.mul(tf.neg(stats.logp), responseMask), 1) as tf.Tensor1D);
        if (refLogp) {
          const x = tf.sub(refLogp, stats.logp);
          keptKlRef = tf.keep(tf.sum(tf.mul(tf.sub(tf.sub(tf.exp(x), x), 1), responseMask)) as tf.Scalar);
        }
      }
      return total;
    };
    return tf.variableGrads(() => {
      const stats = policy.tokenStats({ tokens, attentionMask });
      try {
        return lossOf(stats);
      } catch (error) {
        // Finish the pass on a zero loss so tfjs's backward frees the tensors its tape
        // saved; the error is thrown once the gradients are disposed.
        failure = { error };
        return tf.mul(tf.sum(stats.logp), 0) as tf.Scalar;
      }
    }, [...input.variables]);
  });
  if (failure) {
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    for (const [, t] of [...kept, ...keptTerms]) t.dispose();
    for (const t of [keptLogp, keptKlRef, keptRows.entropy, keptRows.nll]) t?.dispose();
    throw failure.error;
  }
  const result: MicroBatchResult = {
    loss: read(value),
    grads,
    metrics: kept.map(([k, t]) => [k, read(t)]),
    terms: keptTerms.map(([k, t]) => [k, read(t)]),
  };
  if (keptLogp) {
    result.logp = keptLogp.dataSync() as Float32Array;
    keptLogp.dispose();
  }
  if (keptRows.entropy) {
    result.rowEntropy = keptRows.entropy.dataSync() as Float32Array;
    keptRows.entropy.dispose();
  }
  if (keptRows.nll) {
    result.rowNll = keptRows.nll.dataSync() as Float32Array;
    keptRows.nll.dispose();
  }
  if (keptKlRef) result.klRef = read(keptKlRef);
  return result;
}
