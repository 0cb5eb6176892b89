
import { Rng, type TrainBatch } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import { expect, it } from 'vitest';
import { optimizerSchema } from './config';
import { AdamOptimizer } from './optimizer';
import { BigramEngine, BigramPolicy, charTokenizer, entropyBonus, ppoClipLoss, reinforceLoss, tokenMean } from '@rftkit/test-kit';
import { hostTokenStats } from './token-stats';
import { runUpdate, type UpdateInput } from './update';

const tok = charTokenizer('ab');
const info = { step: 1, seed: 7 };

function adam(policy: BigramPolicy, lr: number, gradClip = 0) {
  return new AdamOptimizer(policy.trainableVariables(), optimizerSchema.parse({ lr, weightDecay: 0, gradClip }));
}

async function randomBatch(policy: BigramPolicy): Promise<TrainBatch> {
  const engine = new BigramEngine(policy);
  const b = await engine.generate({
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
  const advantages = Float32Array.from(b.responseMask, (m) => m * rng.normal());
  const rowWeights = Float32Array.from({ length: b.rows }, () => 0.5 + rng.float());
  return { ...b, scores: new Float32Array(b.rows), rewardComponents: {}, advantages, rowWeights };
}

describeBackends('runUpdate', () => {
  it('one REINFORCE step from uniform logits equals the hand-computed Adam step', async () => {
    const policy = new BigramPolicy(tok, 0);
    const V = tok.vocabSize; // pad, bos, eos, a, b = 5
    // One row: [bos, a, eos], response = a, eos; advantage 1.
    const batch: TrainBatch = {
      rows: 1,
      seqLen: 3,
      tokens: Int32Array.from([1, 3, 2]),
      attentionMask: Float32Array.from([1, 1, 1]),
      responseMask: Float32Array.from([0, 1, 1]),
      behaviourLogp: new Float32Array(3),
      logpT1: new Float32Array(3),
      groupIds: Int32Array.from([0]),
      promptIndex: Int32Array.from([0]),
      prompts: [{ id: 'p', prompt: '' }],
      responses: ['a'],
      sampling: [{ temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: 2, stopTokens: [] }],
      finishReason: ['stop'],
      source: ['main'],
      seeds: Uint32Array.from([0]),
      scores: Float32Array.from([1]),
      rewardComponents: {},
      advantages: Float32Array.from([0, 1, 1]),
    };
    const opt = adam(policy, 0.1);
    const metrics = await expectNoLeaks(() =>
      runUpdate({
        policy,
        optimizer: opt,
        loss: reinforceLoss,
        aggregator: tokenMean,
        regularizers: [],
        batch,
        oldLogp: hostTokenStats(policy, batch).logp,
        miniBatchSamples: 1,
        microBatchSamples: 1,
        epochs: 1,
        gradClip: 0,
        lr: 0.1,
        info,
      }),
    );
    // ∂/∂W[prev] of −½·log softmax(W[prev])[next] = −½(e_next − 1/V): Adam's first step
    // moves each entry by −lr·sign(grad): +0.1 on the sampled token, −0.1 elsewhere.
    const expected = new Float32Array(V * V);
    for (const [prev, next] of [
      [1, 3],
      [3, 2],
    ] as const)
      for (let v = 0; v < V; v++) expected[prev * V + v] = v === next ? 0.1 : -0.1;
    expectAllClose(policy.values(), expected, { atol: 1e-6 });
    expect(metrics.loss).toBeCloseTo(Math.log(V), 5);
    expect(metrics['entropy/exact']).toBeCloseTo(Math.log(V), 5);
    expect(metrics['entropy/nll']).toBeCloseTo(Math.log(V), 5);
    // Two rows of W with gradient ½(e − u): norm = √2 · ½ · √((V−1)/V)
    expect(metrics.grad_norm).toBeCloseTo(Math.SQRT2 * 0.5 * Math.sqrt((V - 1) / V), 5);
    expect(metrics.approx_kl).toBeCloseTo(0, 6);
    opt.dispose();
    policy.dispose();
  });

  it('entropy/*_main average over main rows only; equal the plain means when every row is main', async () => {
    const run = async (sources: (rows: number) => string[]) => {
      const policy = new BigramPolicy(tok, 5);
      const b = await randomBatch(policy);
      const batch: TrainBatch = { ...b, source: sources(b.rows) };
      const host = hostTokenStats(policy, batch);
      const opt = adam(policy, 0.05);
      // One mini-batch: the whole first pass runs under the pre-update policy.
      const metrics = await expectNoLeaks(() =>
        runUpdate({
          policy,
          optimizer: opt,
          loss: ppoClipLoss,
          aggregator: tokenMean,
          regularizers: [],
          batch,
          oldLogp: host.logp,
          miniBatchSamples: batch.rows,
          microBatchSamples: 4,
          epochs: 2,
          gradClip: 0,
          lr: 0.05,
          info,
        }),
      );
      // Hand computation: token means over the chosen rows' response tokens.
      const mean = (pick: (r: number) => boolean) => {
        let tokens = 0;
        let entropy = 0;
        let nll = 0;
        for (let r = 0; r < batch.rows; r++) {
          if (!pick(r)) continue;
          for (let t = 0; t < batch.seqLen; t++) {
            const i = r * batch.seqLen + t;
            const m = batch.responseMask[i]!;
            tokens += m;
            entropy += m * host.entropy[i]!;
            nll += m * -host.logp[i]!;
          }
        }
        return { exact: entropy / tokens, nll: nll / tokens };
      };
      opt.dispose();
      policy.dispose();
      return { metrics, main: mean((r) => batch.source[r] === 'main'), all: mean(() => true) };
    };

    // Rows 0, 2, 3 were added by a regularizer.
    const mixed = await run((rows) => Array.from({ length: rows }, (_, r) => ([0, 2, 3].includes(r) ? 'aepo:T=1.2' : 'main')));
    expect(mixed.metrics['entropy/exact_main']).toBeCloseTo(mixed.main.exact, 5);
    expect(mixed.metrics['entropy/nll_main']).toBeCloseTo(mixed.main.nll, 5);
    expect(mixed.metrics['entropy/exact']).toBeCloseTo(mixed.all.exact, 5);
    expect(mixed.metrics['entropy/nll']).toBeCloseTo(mixed.all.nll, 5);
    // The batch is such that the row selection matters.
    expect(Math.abs(mixed.main.nll - mixed.all.nll)).toBeGreaterThan(1e-3);

    const allMain = await run((rows) => Array.from({ length: rows }, () => 'main'));
    expect(allMain.metrics['entropy/exact_main']).toBeCloseTo(allMain.metrics['entropy/exact']!, 6);
    expect(allMain.metrics['entropy/nll_main']).toBeCloseTo(allMain.metrics['entropy/nll']!, 6);
    expect(allMain.metrics['entropy/nll_main']).toBeCloseTo(allMain.all.nll, 5);

    // No main row: the _main metrics are absent rather than a meaningless 0.
    const none = await run((rows) => Array.from({ length: rows }, () => 'aepo:T=0.8'));
    expect('entropy/exact_main' in none.metrics).toBe(false);
    expect('entropy/nll_main' in none.metrics).toBe(false);
    expect(none.metrics['entropy/nll']).toBeCloseTo(none.all.nll, 5);
  });

  it('micro-batch size does not change the update or its metrics', async () => {
    const run = async (micro: number) => {
      const policy = new BigramPolicy(tok, 5);
      const batch = await randomBatch(policy);
      const opt = adam(policy, 0.05, 0.5);
      const base: UpdateInput = {
        policy,
        optimizer: opt,
        loss: ppoClipLoss,
        aggregator: tokenMean,
        regularizers: [entropyBonus(0.1)],
        batch,
        oldLogp: hostTokenStats(policy, batch).logp,
        refLogp: hostTokenStats(policy, batch).logp.map((x) => x - 0.1),
        miniBatchSamples: 4,
        microBatchSamples: micro,
        epochs: 2,
        gradClip: 0.5,
        lr: 0.05,
        info,
      };
      const metrics = await expectNoLeaks(() => runUpdate(base));
      const w = policy.values();
      opt.dispose();
      policy.dispose();
      return { metrics, w };
    };
    const a = await run(4);
    for (const micro of [1, 3]) {
      const b = await run(micro);
      expectAllClose(b.w, a.w, { atol: 2e-6, label: `weights, micro=${micro}` });
      for (const k of Object.keys(a.metrics)) {
        expectAllClose([b.metrics[k]!], [a.metrics[k]!], { atol: 2e-6, rtol: 1e-4, label: `${k}, micro=${micro}` });
      }
    }
    // The second epoch moved the policy away from the old one: ratios and clip fractions are live.
    expect(a.metrics.approx_kl).toBeGreaterThan(0);
    expect(a.metrics['kl/ref']).toBeGreaterThan(0);
    expect(a.metrics['test/entropy_term']).toBeGreaterThan(0);
    expect(a.metrics.grad_norm).toBeGreaterThan(0);
  });

  it('without oldLogp, reuses the first mini-batch forward and computes the rest: same update as precomputed', async () => {
    const run = async (precompute: boolean, miniBatchSamples: number, epochs: number) => {
      const policy = new BigramPolicy(tok, 5);
      const batch = await randomBatch(policy);
      const opt = adam(policy, 0.05, 0.5);
      const input: UpdateInput = {
        policy,
        optimizer: opt,
        loss: ppoClipLoss,
        aggregator: tokenMean,
        regularizers: [entropyBonus(0.1)],
        batch,
        ...(precompute ? { oldLogp: hostTokenStats(policy, batch).logp } : {}),
        miniBatchSamples,
        microBatchSamples: 2,
        epochs,
        gradClip: 0.5,
        lr: 0.05,
        info,
      };
      // Count forward passes: rows given to tokenStats, summed.
      let forwardRows = 0;
      const tokenStats = policy.tokenStats.bind(policy);
      policy.tokenStats = (inputs, options) => {
        forwardRows += inputs.tokens.shape[0];
        return tokenStats(inputs, options);
      };
      const metrics = await expectNoLeaks(() => runUpdate(input));
      const w = policy.values();
      opt.dispose();
      policy.dispose();
      return { metrics, w, forwardRows, rows: batch.rows };
    };
    for (const [mini, epochs] of [
      [4, 2],
      [6, 1],
    ] as const) {
      const given = await run(true, mini, epochs);
      const lazy = await run(false, mini, epochs);
      expectAllClose(lazy.w, given.w, { atol: 1e-6, label: `weights, mini=${mini} epochs=${epochs}` });
      for (const k of Object.keys(given.metrics)) {
        expectAllClose([lazy.metrics[k]!], [given.metrics[k]!], { atol: 1e-6, rtol: 1e-5, label: `${k}, mini=${mini}` });
      }
      // Training forwards cover rows × epochs; the old-logp pass only rows outside the first mini-batch.
      expect(given.forwardRows).toBe(given.rows * epochs);
      expect(lazy.forwardRows).toBe(given.rows * epochs + Math.max(given.rows - mini, 0));
    }
  });
});

