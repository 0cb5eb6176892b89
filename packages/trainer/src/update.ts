import type * as tf from '@tensorflow/tfjs-core';
import {
  type AggregationContext,
  ComponentError,
  type LossAggregator,
  type Metrics,
  type Policy,
  type PolicyLoss,
  type Regularizer,
  Rng,
  type StepInfo,
  type TrainBatch,
} from '@rftkit/core';
import { addInto } from '@rftkit/tensor';
import { microBatchGradients } from './micro-batch';
import { rolloutMismatchMetrics } from './mismatch-metrics';
import { correctionEnabled, type LossCorrectionOptions, lossCorrection } from './rollout-correction';
import { componentName } from './stages/component-checks';
import { type AdamOptimizer, clipByGlobalNorm } from './optimizer';
import { FirstPassTotals, MetricMeans } from './update-metrics';
import { preUpdateLogp, responseTokensPerRow, scatterRows } from './update-rows';

export interface UpdateInput {
  policy: Policy;
  optimizer: AdamOptimizer;
  loss: PolicyLoss;
  aggregator: LossAggregator;
  regularizers: readonly Regularizer[];
  batch: TrainBatch;
  /**
   * Log-probs of every row under the pre-update policy at T=1, `[rows * seqLen]`. When
   * omitted, `runUpdate` computes them: the first mini-batch of the first epoch reads its
   * own forward pass, detached (the policy has not moved yet, so that forward *is* the old
   * policy's), and only the other rows get a separate forward before the first optimizer
   * step. With one mini-batch and one epoch no extra forward runs at all.
   */
  oldLogp?: Float32Array;
  /** Reference-policy log-probs, when the run has a reference. */
  refLogp?: Float32Array;
  miniBatchSamples: number;
  microBatchSamples: number;
  epochs: number;
  gradClip: number;
  lr: number;
  info: StepInfo;
  /** Rollout corrections and the overlong filter (rollout-correction.ts); off when absent. */
  corrections?: LossCorrectionOptions;
}

/**
 * Adds `grads` (by variable name) into `accum` (by variable index), disposing what it
 * replaces; in place where the backend allows (@rftkit/tensor's addInto).
 */
function accumulate(accum: Array<tf.Tensor | null>, variables: readonly tf.Variable[], grads: tf.NamedTensorMap): Array<tf.Tensor | null> {
  return variables.map((v, i) => {
    const g = grads[v.name];
    const prev = accum[i]!;
    if (!g) return prev;
    if (!prev) return g;
    const sum = addInto(prev, g);
    if (sum !== prev) prev.dispose();
    g.dispose();
    return sum;
  });
}

/**
 * One optimizer step on accumulated gradients, clipped to `gradClip`; returns the pre-clip
 * global norm. A non-finite norm stops before the weights or moments change.
 */
function optimizerStep(
  optimizer: AdamOptimizer,
  accum: Array<tf.Tensor | null>,
  gradClip: number,
  lr: number,
  onNonFinite: (norm: number) => never,
): number {
  const present = accum.filter((g): g is tf.Tensor => g !== null);
  const { grads: clipped, norm } = present.length ? clipByGlobalNorm(present, gradClip) : { grads: [] as tf.Tensor[], norm: 0 };
  if (!Number.isFinite(norm)) {
    for (const t of new Set([...present, ...clipped])) t.dispose();
    onNonFinite(norm);
  }
  let j = 0;
  optimizer.apply(
    accum.map((g) => (g ? clipped[j++]! : null)),
    lr,
  );
  for (const t of [...present, ...clipped]) t.dispose();
  return norm;
}

/**
 * The update phase of a step: `epochs` passes over the batch in shuffled mini-batches of
 * `miniBatchSamples` rows, each one optimizer step with gradients accumulated over
 * micro-batches of `microBatchSamples` rows. Aggregation uses the whole mini-batch's
 * sizes, so the gradient does not depend on the micro-batch size.
 *
 * Metrics: `loss` and `grad_norm` (pre-clip) are means over optimizer steps. Policy-loss
 * metrics (`clip/frac_low`, ...) and `approx_kl` (mean ½(logp − oldLogp)² per token) are
 * means over the micro-batch, combined token-weighted over all passes. Loss-term metrics
 * are read like the loss terms themselves (aggregated with the global context, e.g. via
 * `ctx.aggregate`): summed over the micro-batches of a mini-batch, then averaged over
 * optimizer steps. `entropy/exact`, `entropy/nll` and `kl/ref`
 * (k3 estimator, exp(ref − logp) − (ref − logp) − 1) are means over response tokens of the
 * first pass, all rows included. `entropy/exact_main` and `entropy/nll_main` are the same
 * means over rows whose `source` is 'main' only (absent when there is no such token).
 * `rollout/*` compare the rollout's log-probs with the old ones (`rolloutMismatchMetrics`).
 */
export function runUpdate(input: UpdateInput): Metrics {
  const { optimizer, batch, info } = input;
  const { rows, seqLen } = batch;
  const variables = optimizer.variables;
  const means = new MetricMeans();
  const firstPass = new FirstPassTotals();
  const corrections = input.corrections ?? {};
  const correcting = correctionEnabled(corrections);
  // Rows that regularizers added (e.g. AEPO's tempered rows) have another source; the
  // `_main` entropy metrics exclude them so a controller can read the main rollout alone.
  const isMain = Array.from({ length: rows }, (_, r) => batch.source[r] === 'main');
  // A NaN/Infinity loss or gradient names the components that make up the loss.
  const lossParts = [
    componentName('policy loss', input.loss.id),
    componentName('aggregation', input.aggregator.id),
    ...input.regularizers.filter((r) => r.tokenAdvantages || r.tokenLoss || r.lossTerms).map((r) => componentName('regularizer', r.id)),
  ].join(', ');
  const nonFinite = (what: string, value: number, epoch: number, m0: number): never => {
    throw new ComponentError(
      `the loss of ${lossParts}`,
      info.step,
      `${what} is ${value} (epoch ${epoch}, mini-batch ${m0 / input.miniBatchSamples}); expected a finite number`,
    );
  };
  let lossSum = 0;
  let normSum = 0;
  let optimizerSteps = 0;
  const shuffled = (epoch: number) => {
    const order = Array.from({ length: rows }, (_, i) => i);
    Rng.derive(info.seed, 'shuffle', info.step, epoch).shuffle(order);
    return order;
  };
  // Rows whose old log-probs come from their own first training forward (see `oldLogp`).
  // Corrections need every row's old log-probs before the first optimizer step.
  const reuseRows = input.oldLogp || correcting ? [] : shuffled(0).slice(0, input.miniBatchSamples);
  const oldLogp = input.oldLogp ?? preUpdateLogp(input.policy, batch, reuseRows, input.microBatchSamples);
  // Weights and masks from μ and π_old, fixed for every epoch and mini-batch of the step.
  const correction = lossCorrection(batch, oldLogp, corrections);
  const rowTokens = responseTokensPerRow(correction.lossMask ? { ...batch, responseMask: correction.lossMask } : batch);
  const metricTokens = correction.lossMask ? responseTokensPerRow(batch) : rowTokens;

  for (let epoch = 0; epoch < input.epochs; epoch++) {
    const order = shuffled(epoch);
    for (let m0 = 0; m0 < rows; m0 += input.miniBatchSamples) {
      const mini = order.slice(m0, m0 + input.miniBatchSamples);
      // The first mini-batch of the first epoch is exactly `reuseRows`.
      const reuse = reuseRows.length > 0 && epoch === 0 && m0 === 0;
      const aggregation: AggregationContext = {
        totalTokens: mini.reduce((a, r) => a + rowTokens[r]!, 0),
        totalSequences: mini.filter((r) => rowTokens[r]! > 0).length, // rows with response tokens (verl)
        maxResponseLength: Math.max(...mini.map((r) => batch.sampling[r]?.maxNewTokens ?? 0), 1),
      };
      let accum: Array<tf.Tensor | null> = variables.map(() => null);
      let miniLoss = 0;
      const termSums = new Map<string, number>();
      for (let u0 = 0; u0 < mini.length; u0 += input.microBatchSamples) {
        const micro = mini.slice(u0, u0 + input.microBatchSamples);
        const microTokens = micro.reduce((a, r) => a + rowTokens[r]!, 0);
        const weight = aggregation.totalTokens > 0 ? microTokens : micro.length;
        const out = microBatchGradients({
          policy: input.policy,
          loss: input.loss,
          aggregator: input.aggregator,
          regularizers: input.regularizers,
          variables,
          batch,
          rows: micro,
          tokens: microTokens,
          aggregation,
          oldLogp: reuse ? undefined : oldLogp,
          refLogp: input.refLogp,
          ...(correction.tokenWeights && { tokenWeights: correction.tokenWeights }),
          ...(correction.lossMask && { lossMask: correction.lossMask }),
          firstPass: epoch === 0,
          info,
        });
        if (!Number.isFinite(out.loss)) {
          for (const g of Object.values(out.grads)) g.dispose();
          for (const g of accum) g?.dispose();
          nonFinite('the loss', out.loss, epoch, m0);
        }
        miniLoss += out.loss;
        // Later epochs read these rows' old log-probs from the host array.
        if (out.logp) scatterRows(oldLogp, out.logp, micro, seqLen);
        accum = accumulate(accum, variables, out.grads);
        for (const [k, x] of out.metrics) means.add(k, x, weight);
        if (out.klRef !== undefined) firstPass.klRef += out.klRef;
        if (out.rowEntropy) firstPass.addRows('entropy', out.rowEntropy, micro, isMain);
        if (out.rowNll) firstPass.addRows('nll', out.rowNll, micro, isMain);
        for (const [k, x] of out.terms) termSums.set(k, (termSums.get(k) ?? 0) + x);
        if (epoch === 0) firstPass.addTokens(micro, metricTokens, isMain);
      }
      normSum += optimizerStep(optimizer, accum, input.gradClip, input.lr, (norm) => nonFinite('the gradient norm', norm, epoch, m0));
      for (const [k, x] of termSums) means.add(k, x, 1);
      lossSum += miniLoss;
      optimizerSteps++;
    }
  }

  return {
    'clip/frac_low': 0,
    'clip/frac_high': 0,
    ...means.result(),
    loss: lossSum / Math.max(optimizerSteps, 1),
    grad_norm: normSum / Math.max(optimizerSteps, 1),
    lr: input.lr,
    ...firstPass.metrics(input.refLogp !== undefined),
    // Every row's old log-probs are known once the first pass is over.
    ...rolloutMismatchMetrics(batch, oldLogp),
    ...correction.metrics,
  };
}
