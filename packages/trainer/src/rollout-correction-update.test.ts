import * as tf from '@tensorflow/tfjs-core';
import { type PolicyLoss, type Regularizer, Rng, type TrainBatch } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import { BigramEngine, BigramPolicy, charTokenizer, ppoClipLoss, tokenMean } from '@rftkit/test-kit';
import { expect, it } from 'vitest';
import { optimizerSchema, rolloutCorrectionSchema } from './config';
import { AdamOptimizer } from './optimizer';
import type { LossCorrectionOptions } from './rollout-correction';
import { hostTokenStats } from './token-stats';
import { runUpdate, type UpdateInput } from './update';

// Rollout corrections and the overlong filter seen through `runUpdate`: what reaches the
// loss, across epochs and mini-batches (rollout-correction.test.ts checks the weights alone).

const tok = charTokenizer('ab');
const info = { step: 1, seed: 7 };
const allOn = rolloutCorrectionSchema.parse({ tokenIs: true, seqMask: true, tokenMask: true });

async function batchOf(policy: BigramPolicy, rowWeights = true): Promise<TrainBatch> {
  const b = await new BigramEngine(policy).generate({
    prompts: [
      { id: 'p0', prompt: 'ab' },
      { id: 'p1', prompt: 'b' },
    ],
    samplesPerPrompt: 3,
    sampling: { temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: 5, stopTokens: [] },
    seed: 3,
    step: 1,
  });
  const rng = new Rng(11);
  // Distinct advantages per token, so a row can be recognised from its advantages alone.
  const advantages = Float32Array.from(b.responseMask, (m) => m * rng.normal());
  const batch: TrainBatch = { ...b, scores: new Float32Array(b.rows), rewardComponents: {}, advantages };
  if (rowWeights) batch.rowWeights = Float32Array.from({ length: b.rows }, () => 0.5 + rng.float());
  return batch;
}

/** The batch with only `keep` rows (every per-row and per-token field sliced). */
function selectRows(b: TrainBatch, keep: number[]): TrainBatch {
  const L = b.seqLen;
  const tokens = <T extends Float32Array | Int32Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(keep.length * L);
    keep.forEach((r, i) => {
      out.set(a.subarray(r * L, (r + 1) * L), i * L);
    });
    return out;
  };
  const rowsOf = <T>(a: ArrayLike<T>) => keep.map((r) => a[r]!);
  return {
    ...b,
    rows: keep.length,
    tokens: tokens(b.tokens),
    attentionMask: tokens(b.attentionMask),
    responseMask: tokens(b.responseMask),
    behaviourLogp: tokens(b.behaviourLogp),
    logpT1: tokens(b.logpT1),
    advantages: tokens(b.advantages),
    groupIds: Int32Array.from(rowsOf(b.groupIds)),
    promptIndex: Int32Array.from(rowsOf(b.promptIndex)),
    seeds: Uint32Array.from(rowsOf(b.seeds)),
    scores: Float32Array.from(rowsOf(b.scores)),
    responses: rowsOf(b.responses),
    sampling: rowsOf(b.sampling),
    finishReason: rowsOf(b.finishReason),
    source: rowsOf(b.source),
    ...(b.rowWeights && { rowWeights: Float32Array.from(rowsOf(b.rowWeights)) }),
  };
}

interface Run {
  metrics: Record<string, number>;
  weights: Float32Array;
  /** The gradients handed to each optimizer step (flattened over variables). */
  grads: Float32Array[];
}

async function update(
  batch: TrainBatch,
  corrections: LossCorrectionOptions | undefined,
  options: Partial<UpdateInput> = {},
  policy = new BigramPolicy(tok, 5),
): Promise<Run> {
  const optimizer = new AdamOptimizer(policy.trainableVariables(), optimizerSchema.parse({ lr: 0.05, weightDecay: 0, gradClip: 0 }));
  const grads: Float32Array[] = [];
  const apply = optimizer.apply.bind(optimizer);
  optimizer.apply = (g, lr) => {
    grads.push(Float32Array.from(g.flatMap((t) => (t ? Array.from(t.dataSync()) : []))));
    return apply(g, lr);
  };
  const metrics = await expectNoLeaks(() =>
    runUpdate({
      policy,
      optimizer,
      loss: ppoClipLoss,
      aggregator: tokenMean,
      regularizers: [],
      batch,
      miniBatchSamples: batch.rows,
      microBatchSamples: 2,
      epochs: 1,
      gradClip: 0,
      lr: 0.05,
      info,
      ...(corrections && { corrections }),
      ...options,
    }),
  );
  const weights = Float32Array.from(policy.values());
  optimizer.dispose();
  policy.dispose();
  return { metrics, weights, grads };
}

describeBackends('rollout corrections through runUpdate', () => {
  it('on-policy rows (μ = π_old): every correction on gives the update with corrections off, nothing masked', async () => {
    const policy = new BigramPolicy(tok, 5);
    const batch = await batchOf(policy);
    // μ exactly the trainer's old log-probs; no truncated row, so the overlong filter drops nothing.
    batch.logpT1 = hostTokenStats(policy, batch).logp;
    policy.dispose();
    batch.finishReason = batch.finishReason.map(() => 'stop');
    const shape = { miniBatchSamples: 3, epochs: 2 };
    const off = await update(batch, undefined, shape);
    const on = await update(batch, { rolloutCorrection: allOn, overlongFilter: true }, shape);
    expect(on.grads.length).toBe(4);
    on.grads.forEach((g, i) => {
      expectAllClose(g, off.grads[i]!, { atol: 1e-6, label: `gradient of optimizer step ${i}` });
    });
    expectAllClose(on.weights, off.weights, { atol: 1e-6, label: 'weights' });
    for (const k of Object.keys(off.metrics)) {
      expectAllClose([on.metrics[k]!], [off.metrics[k]!], { atol: 1e-6, label: k });
    }
    expect(on.metrics['rollout_correction/masked_token_frac']).toBe(0);
    expect(on.metrics['rollout_correction/masked_seq_frac']).toBe(0);
    expect(on.metrics['overlong/masked_rows']).toBe(0);
    expect(on.metrics['rollout_correction/weight_mean']).toBeCloseTo(1, 6);
    // The run moved: the comparison is of two real updates.
    expect(off.metrics.approx_kl).toBeGreaterThan(0);
  });

  it('2 epochs × 2 mini-batches: every pass sees π_old and weights min(π_old/μ, C), never π_θ', async () => {
    const policy = new BigramPolicy(tok, 5);
    const batch = await batchOf(policy, false);
    const piOld = hostTokenStats(policy, batch).logp;
    // μ off π_old by a different amount per token (some past the cap C = 2).
    const rng = new Rng(5);
    batch.logpT1 = Float32Array.from(piOld, (x, i) => (batch.responseMask[i] ? x - 1.2 * rng.float() + 0.2 : x));
    const { seqLen } = batch;
    const rowOf = new Map<string, number>();
    for (let r = 0; r < batch.rows; r++) rowOf.set(Array.from(batch.advantages.subarray(r * seqLen, (r + 1) * seqLen)).join(), r);

    // Per call: the rows (from their advantages), the oldLogp the loss got, its token loss,
    // and the token loss after the correction weight (what the next hook receives).
    const calls: { rows: number[]; oldLogp: Float32Array; logp: Float32Array; raw: Float32Array; weighted?: Float32Array }[] = [];
    const recordingLoss: PolicyLoss = {
      id: 'test-recording-ppo',
      compute: (input) => {
        const adv = input.advantages.arraySync();
        const out = ppoClipLoss.compute(input);
        calls.push({
          rows: adv.map((a) => rowOf.get(a.join())!),
          oldLogp: Float32Array.from(input.oldLogp.dataSync()),
          logp: Float32Array.from(input.logp.dataSync()),
          raw: Float32Array.from(out.tokenLoss.dataSync()),
        });
        return out;
      },
    };
    const recordWeighted: Regularizer = {
      id: 'test-record-weighted',
      tokenLoss: (tokenLoss) => {
        calls.at(-1)!.weighted = Float32Array.from(tokenLoss.dataSync());
        return tf.clone(tokenLoss);
      },
    };
    const tokenIsOnly = rolloutCorrectionSchema.parse({ tokenIs: true, tokenIsCap: 2 });
    await update(
      batch,
      { rolloutCorrection: tokenIsOnly },
      { loss: recordingLoss, regularizers: [recordWeighted], miniBatchSamples: 3, microBatchSamples: 3, epochs: 2 },
      policy,
    );
    expect(calls.length).toBe(4);
    const seen = new Map<number, number>();
    let moved = 0;
    for (const c of calls) {
      c.rows.forEach((r, i) => {
        expect(r, 'row recognised').toBeTypeOf('number');
        seen.set(r, (seen.get(r) ?? 0) + 1);
        const slice = (a: Float32Array) => a.subarray(i * seqLen, (i + 1) * seqLen);
        const mask = batch.responseMask.subarray(r * seqLen, (r + 1) * seqLen);
        const old = piOld.subarray(r * seqLen, (r + 1) * seqLen);
        const mu = batch.logpT1.subarray(r * seqLen, (r + 1) * seqLen);
        // The ratio's denominator is π_old in every epoch and mini-batch.
        expectAllClose(Array.from(slice(c.oldLogp)).filter((_, t) => mask[t]), Array.from(old).filter((_, t) => mask[t]), {
          atol: 1e-6,
          label: `oldLogp of row ${r}`,
        });
        for (let t = 0; t < seqLen; t++) {
          if (!mask[t]) continue;
          moved = Math.max(moved, Math.abs(slice(c.logp)[t]! - old[t]!));
          const raw = slice(c.raw)[t]!;
          if (Math.abs(raw) < 1e-4) continue;
          const w = slice(c.weighted!)[t]! / raw;
          expect(w, `weight of row ${r} token ${t}`).toBeCloseTo(Math.min(Math.exp(old[t]! - mu[t]!), 2), 4);
        }
      });
    }
    // Every row is trained twice (once per epoch), and by the later passes π_θ has left π_old.
    expect([...seen.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...seen.values()].every((n) => n === 2)).toBe(true);
    expect(moved).toBeGreaterThan(1e-3);
  });

  it("overlong filter: a truncated row adds nothing; the gradient is the batch's without it, token-mean renormalised", async () => {
    const policy = new BigramPolicy(tok, 5);
    const batch = await batchOf(policy);
    policy.dispose();
    const cut = 2;
    batch.finishReason = batch.finishReason.map((_, r) => (r === cut ? 'length' : 'stop'));
    const keep = Array.from({ length: batch.rows }, (_, r) => r).filter((r) => r !== cut);
    const filtered = await update(batch, { overlongFilter: true });
    const without = await update(selectRows(batch, keep), undefined);
    const unfiltered = await update(batch, undefined);
    expectAllClose(filtered.grads[0]!, without.grads[0]!, { atol: 1e-6, label: 'gradient' });
    expectAllClose([filtered.metrics.loss!], [without.metrics.loss!], { atol: 1e-6, label: 'loss' });
    expect(filtered.metrics['overlong/masked_rows']).toBe(1);
    expect(filtered.metrics['rollout_correction/masked_seq_frac']).toBeCloseTo(1 / batch.rows, 6);
    // The row matters when it is not filtered.
    const diff = Math.max(...unfiltered.grads[0]!.map((g, i) => Math.abs(g - without.grads[0]![i]!)));
    expect(diff).toBeGreaterThan(1e-4);
  });
});
