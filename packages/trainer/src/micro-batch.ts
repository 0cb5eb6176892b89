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
 */
export function microBatchGradients(input: MicroBatchInput): MicroBatchResult {
  const { policy, loss, aggregator, regularizers, batch, rows: micro, aggregation, info } = input;
  const { seqLen } = batch;
  const kept: Array<[string, tf.Scalar]> = [];
  const keptTerms: Array<[string, tf.Scalar]> = [];
  const keptRows: Partial<Record<'entropy' | 'nll', tf.Tensor1D>> = {};
  let keptLogp: tf.Tensor | undefined;
  let keptKlRef: tf.Scalar | undefined;
  const { value, grads } = tf.tidy(() => {
    const n = micro.length;
    const shape: [number, number] = [n, seqLen];
    const tokens = tf.tensor2d(sliceRows(batch.tokens, micro, seqLen), shape, 'int32');
    const attentionMask = tf.tensor2d(sliceRows(batch.attentionMask, micro, seqLen), shape);
    const mask = tf.tensor2d(sliceRows(batch.responseMask, micro, seqLen), shape);
    const hostOld = input.oldLogp ? tf.tensor2d(sliceRows(input.oldLogp, micro, seqLen), shape) : undefined;
    const refLogp = input.refLogp ? tf.tensor2d(sliceRows(input.refLogp, micro, seqLen), shape) : undefined;
    const advantages = tf.tensor2d(sliceRows(batch.advantages, micro, seqLen), shape);
    const rowWeights = batch.rowWeights ? tf.tensor2d(Float32Array.from(micro, (r) => batch.rowWeights![r]!), [n, 1]) : undefined;
    return tf.variableGrads(() => {
      const stats = policy.tokenStats({ tokens, attentionMask });
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
        aggregate: (v) => aggregator.aggregate(v, mask, aggregation),
      };
      for (const reg of regularizers) {
        if (reg.tokenAdvantages) ctx.advantages = reg.tokenAdvantages({ ...ctx });
      }
      const out = loss.compute({ logp: ctx.logp, oldLogp, advantages: ctx.advantages, mask });
      for (const [k, v] of Object.entries(out.metrics)) kept.push([k, tf.keep(v)]);
      let tokenLoss = rowWeights ? tf.mul(out.tokenLoss, rowWeights) : out.tokenLoss;
      for (const reg of regularizers) {
        if (reg.tokenLoss) tokenLoss = reg.tokenLoss(tokenLoss as tf.Tensor2D, { ...ctx });
      }
      let total = aggregator.aggregate(tokenLoss as tf.Tensor2D, mask, aggregation);
      for (const reg of regularizers) {
        if (!reg.lossTerms) continue;
        const term = reg.lossTerms({ ...ctx });
        total = tf.add(total, term.loss);
        for (const [k, v] of Object.entries(term.metrics ?? {})) keptTerms.push([k, tf.keep(v)]);
      }
      if (!('approx_kl' in out.metrics)) {
        const d = tf.sub(stats.logp, oldLogp);
        const kl = tf.div(tf.sum(tf.mul(tf.mul(tf.square(d), 0.5), mask)), Math.max(input.tokens, 1e-8));
        kept.push(['approx_kl', tf.keep(kl as tf.Scalar)]);
      }
      if (input.firstPass) {
        keptRows.entropy = tf.keep(tf.sum(tf.mul(stats.entropy, mask), 1) as tf.Tensor1D);
        keptRows.nll = tf.keep(tf.sum(tf.mul(tf.neg(stats.logp), mask), 1) as tf.Tensor1D);
        if (refLogp) {
          const x = tf.sub(refLogp, stats.logp);
          keptKlRef = tf.keep(tf.sum(tf.mul(tf.sub(tf.sub(tf.exp(x), x), 1), mask)) as tf.Scalar);
        }
      }
      return total;
    }, [...input.variables]);
  });
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
