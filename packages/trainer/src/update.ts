import * as tf from '@tensorflow/tfjs-core';
import {
  type AggregationContext,
  type LossAggregator,
  type Metrics,
  type Policy,
  type PolicyLoss,
  type Regularizer,
  Rng,
  type StepInfo,
  type TrainBatch,
  type UpdateContext,
} from '@rftkit/core';
import { stopGradient } from '@rftkit/losses';
import { type AdamOptimizer, clipByGlobalNorm } from './optimizer';
import { hostTokenStats } from './token-stats';

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
}

function sliceRows(src: Float32Array | Int32Array, rows: readonly number[], seqLen: number): Float32Array | Int32Array {
  const dst = new (src.constructor as Float32ArrayConstructor)(rows.length * seqLen);
  rows.forEach((r, i) => {
    dst.set(src.subarray(r * seqLen, (r + 1) * seqLen), i * seqLen);
  });
  return dst;
}

/** Writes `[rows.length * seqLen]` values into `dst` at the rows `rows`. */
function scatterRows(dst: Float32Array, src: Float32Array, rows: readonly number[], seqLen: number): void {
  rows.forEach((r, i) => {
    dst.set(src.subarray(i * seqLen, (i + 1) * seqLen), r * seqLen);
  });
}

/**
 * Old log-probs `[rows * seqLen]` for every row outside `reuseRows`, from a forward pass
 * in micro-batches; `reuseRows` stay zero until their own first forward fills them.
 */
function preUpdateLogp(input: UpdateInput, reuseRows: readonly number[]): Float32Array {
  const { batch } = input;
  const { rows, seqLen } = batch;
  const out = new Float32Array(rows * seqLen);
  const reused = new Set(reuseRows);
  const rest = Array.from({ length: rows }, (_, r) => r).filter((r) => !reused.has(r));
  if (rest.length === 0) return out;
  const sub = {
    rows: rest.length,
    seqLen,
    tokens: sliceRows(batch.tokens, rest, seqLen) as Int32Array,
    attentionMask: sliceRows(batch.attentionMask, rest, seqLen) as Float32Array,
  };
  scatterRows(out, hostTokenStats(input.policy, sub, 1, input.microBatchSamples).logp, rest, seqLen);
  return out;
}

/** Weighted running means of scalar metrics. */
class MetricMeans {
  readonly #sum = new Map<string, number>();
  readonly #weight = new Map<string, number>();
  add(key: string, value: number, weight: number): void {
    this.#sum.set(key, (this.#sum.get(key) ?? 0) + value * weight);
    this.#weight.set(key, (this.#weight.get(key) ?? 0) + weight);
  }
  result(): Metrics {
    const out: Metrics = {};
    for (const [k, s] of this.#sum) {
      const w = this.#weight.get(k)!;
      out[k] = w > 0 ? s / w : 0;
    }
    return out;
  }
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
 */
export function runUpdate(input: UpdateInput): Metrics {
  const { policy, optimizer, loss, aggregator, regularizers, batch, info } = input;
  const { rows, seqLen } = batch;
  const variables = optimizer.variables;
  const means = new MetricMeans();
  const rowTokens = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let t = 0; t < seqLen; t++) n += batch.responseMask[r * seqLen + t]!;
    rowTokens[r] = n;
  }
  // Rows that regularizers added (e.g. AEPO's tempered rows) have another source; the
  // `_main` entropy metrics exclude them so a controller can read the main rollout alone.
  const isMain = Array.from({ length: rows }, (_, r) => batch.source[r] === 'main');
  let firstPass = { tokens: 0, entropy: 0, nll: 0, klRef: 0, mainTokens: 0, mainEntropy: 0, mainNll: 0 };
  let lossSum = 0;
  let normSum = 0;
  let optimizerSteps = 0;
  const shuffled = (epoch: number) => {
    const order = Array.from({ length: rows }, (_, i) => i);
    Rng.derive(info.seed, 'shuffle', info.step, epoch).shuffle(order);
    return order;
  };
  // Rows whose old log-probs come from their own first training forward (see `oldLogp`).
  const reuseRows = input.oldLogp ? [] : shuffled(0).slice(0, input.miniBatchSamples);
  const oldLogpHost = input.oldLogp ?? preUpdateLogp(input, reuseRows);

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
        const kept: Array<[string, tf.Scalar]> = [];
        const keptTerms: Array<[string, tf.Scalar]> = [];
        // First pass only: per-row masked sums [n], split by row source on the host.
        const keptRows: Array<['entropy' | 'nll', tf.Tensor1D]> = [];
        let keptLogp: tf.Tensor | undefined;
        const { value, grads } = tf.tidy(() => {
          const n = micro.length;
          const shape: [number, number] = [n, seqLen];
          const tokens = tf.tensor2d(sliceRows(batch.tokens, micro, seqLen), shape, 'int32');
          const attentionMask = tf.tensor2d(sliceRows(batch.attentionMask, micro, seqLen), shape);
          const mask = tf.tensor2d(sliceRows(batch.responseMask, micro, seqLen), shape);
          const hostOld = reuse ? undefined : tf.tensor2d(sliceRows(oldLogpHost, micro, seqLen), shape);
          const refLogp = input.refLogp ? tf.tensor2d(sliceRows(input.refLogp, micro, seqLen), shape) : undefined;
          const advantages = tf.tensor2d(sliceRows(batch.advantages, micro, seqLen), shape);
          const rowWeights = batch.rowWeights
            ? tf.tensor2d(Float32Array.from(micro, (r) => batch.rowWeights![r]!), [n, 1])
            : undefined;
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
              kept.push(['approx_kl', tf.keep(tf.div(tf.sum(tf.mul(tf.mul(tf.square(d), 0.5), mask)), Math.max(microTokens, 1e-8)))]);
            }
            if (epoch === 0) {
              keptRows.push(['entropy', tf.keep(tf.sum(tf.mul(stats.entropy, mask), 1) as tf.Tensor1D)]);
              keptRows.push(['nll', tf.keep(tf.sum(tf.mul(tf.neg(stats.logp), mask), 1) as tf.Tensor1D)]);
              if (refLogp) {
                const x = tf.sub(refLogp, stats.logp);
                kept.push(['#klref', tf.keep(tf.sum(tf.mul(tf.sub(tf.sub(tf.exp(x), x), 1), mask)))]);
              }
            }
            return total;
          }, variables);
        });
        miniLoss += value.dataSync()[0]!;
        value.dispose();
        if (keptLogp) {
          // Later epochs read these rows' old log-probs from the host array.
          scatterRows(oldLogpHost, keptLogp.dataSync() as Float32Array, micro, seqLen);
          keptLogp.dispose();
        }
        accum = variables.map((v, i) => {
          const g = grads[v.name];
          const prev = accum[i]!;
          if (!g) return prev;
          if (!prev) return g;
          const sum = tf.add(prev, g);
          prev.dispose();
          g.dispose();
          return sum;
        });
        for (const [k, t] of kept) {
          const x = t.dataSync()[0]!;
          t.dispose();
          if (k === '#klref') firstPass.klRef += x;
          else means.add(k, x, weight);
        }
        for (const [k, t] of keptRows) {
          const perRow = t.dataSync();
          t.dispose();
          let all = 0;
          let main = 0;
          micro.forEach((r, i) => {
            all += perRow[i]!;
            if (isMain[r]) main += perRow[i]!;
          });
          if (k === 'entropy') firstPass = { ...firstPass, entropy: firstPass.entropy + all, mainEntropy: firstPass.mainEntropy + main };
          else firstPass = { ...firstPass, nll: firstPass.nll + all, mainNll: firstPass.mainNll + main };
        }
        for (const [k, t] of keptTerms) {
          termSums.set(k, (termSums.get(k) ?? 0) + t.dataSync()[0]!);
          t.dispose();
        }
        if (epoch === 0) {
          const mainTokens = micro.reduce((a, r) => a + (isMain[r] ? rowTokens[r]! : 0), 0);
          firstPass = { ...firstPass, tokens: firstPass.tokens + microTokens, mainTokens: firstPass.mainTokens + mainTokens };
        }
      }
      const present = accum.filter((g): g is tf.Tensor => g !== null);
      const { grads: clipped, norm } = present.length
        ? clipByGlobalNorm(present, input.gradClip)
        : { grads: [] as tf.Tensor[], norm: 0 };
      let j = 0;
      optimizer.apply(
        accum.map((g) => (g ? clipped[j++]! : null)),
        input.lr,
      );
      for (const t of [...present, ...clipped]) t.dispose();
      for (const [k, x] of termSums) means.add(k, x, 1);
      lossSum += miniLoss;
      normSum += norm;
      optimizerSteps++;
    }
  }

  const tokens = Math.max(firstPass.tokens, 1e-8);
  const metrics: Metrics = {
    'clip/frac_low': 0,
    'clip/frac_high': 0,
    ...means.result(),
    loss: lossSum / Math.max(optimizerSteps, 1),
    grad_norm: normSum / Math.max(optimizerSteps, 1),
    lr: input.lr,
    'entropy/exact': firstPass.entropy / tokens,
    'entropy/nll': firstPass.nll / tokens,
  };
  // Absent when no main row has a response token (every row added by regularizers).
  if (firstPass.mainTokens > 0) {
    metrics['entropy/exact_main'] = firstPass.mainEntropy / firstPass.mainTokens;
    metrics['entropy/nll_main'] = firstPass.mainNll / firstPass.mainTokens;
  }
  if (input.refLogp) metrics['kl/ref'] = firstPass.klRef / tokens;
  return metrics;
}
