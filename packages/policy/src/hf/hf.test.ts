// HF policies against transformers: golden logits and greedy generations written by
// __fixtures__/hf/generate.py (torch + transformers, random weights), never run here.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@rftkit/core';
import { describeBackends } from '@rftkit/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportHfPolicy, type HfPolicy, loadHfPolicy } from './index';

const FIXTURES = join(import.meta.dirname, '..', '__fixtures__', 'hf');
const MODELS = ['llama-gqa', 'llama-untied', 'llama3-rope', 'llama-mqa', 'qwen2', 'qwen3', 'mistral', 'gpt2'];
const TOL = 1e-4;

interface Expected {
  batches: Array<{ tokens: number[][]; mask: number[][]; logits: Array<Array<number[] | null>> }>;
  generate: { prompts: number[][]; mask: number[][]; maxNewTokens: number; tokens: number[][] };
}

function expected(model: string): Expected {
  return JSON.parse(readFileSync(join(FIXTURES, model, 'expected.json'), 'utf8')) as Expected;
}

function inputOf(tokens: number[][], mask: number[][]) {
  return { tokens: tf.tensor2d(tokens, undefined, 'int32'), attentionMask: tf.tensor2d(mask, undefined, 'float32') };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** log_softmax(z / T) and its entropy, in float64. */
function logSoftmaxStats(z: number[], T: number, target: number): { logp: number; entropy: number } {
  const s = z.map((v) => v / T);
  const max = Math.max(...s);
  const lse = max + Math.log(s.reduce((a, v) => a + Math.exp(v - max), 0));
  const entropy = -s.reduce((a, v) => a + Math.exp(v - lse) * (v - lse), 0);
  return { logp: s[target]! - lse, entropy };
}

function argmaxRows(logits: tf.Tensor2D): Int32Array {
  const [B, V] = logits.shape;
  const data = logits.dataSync();
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (data[b * V + v]! > data[b * V + best]!) best = v;
    out[b] = best;
  }
  return out;
}

describeBackends('HF policies match transformers', () => {
  for (const model of MODELS) {
    describe(model, () => {
      let policy: HfPolicy;
      const exp = expected(model);
      beforeAll(async () => {
        policy = await loadHfPolicy(join(FIXTURES, model));
      });
      afterAll(() => policy.dispose());

      it('logits equal transformers at every real position (left-padded batches)', () => {
        for (const batch of exp.batches) {
          const input = inputOf(batch.tokens, batch.mask);
          const before = tf.memory().numTensors;
          const logits = policy.forward(input);
          expect(tf.memory().numTensors).toBe(before + 1);
          const got = logits.arraySync();
          let worst = 0;
          batch.logits.forEach((row, b) => {
            row.forEach((want, t) => {
              if (want) worst = Math.max(worst, maxAbsDiff(got[b]![t]!, want));
            });
          });
          expect(worst).toBeLessThan(TOL);
          tf.dispose([logits, input.tokens, input.attentionMask]);
        }
      });

      it('a left-padded row gives the logits of the unpadded row', () => {
        const batch = exp.batches[0]!;
        const input = inputOf(batch.tokens, batch.mask);
        const all = policy.forward(input);
        const T = batch.tokens[0]!.length;
        batch.tokens.forEach((row, b) => {
          const real = row.filter((_, t) => batch.mask[b]![t] === 1);
          const one = inputOf([real], [real.map(() => 1)]);
          const alone = policy.forward(one);
          const padded = tf.slice(all, [b, T - real.length, 0], [1, real.length, -1]);
          expect(maxAbsDiff(alone.dataSync(), padded.dataSync())).toBeLessThan(1e-5);
          tf.dispose([one.tokens, one.attentionMask, alone, padded]);
        });
        tf.dispose([all, input.tokens, input.attentionMask]);
      });

      it('tokenStats at T = 0.7 equal log_softmax(logits / T) of the golden logits', () => {
        const batch = exp.batches[1]!;
        const input = inputOf(batch.tokens, batch.mask);
        const before = tf.memory().numTensors;
        const stats = policy.tokenStats(input, { temperature: 0.7 });
        expect(tf.memory().numTensors).toBe(before + 2);
        const logp = stats.logp.arraySync();
        const entropy = stats.entropy.arraySync();
        let worst = 0;
        batch.tokens.forEach((row, b) => {
          expect(logp[b]![0]).toBe(0);
          for (let t = 1; t < row.length; t++) {
            const prev = batch.logits[b]![t - 1];
            if (!prev) continue;
            const want = logSoftmaxStats(prev, 0.7, row[t]!);
            worst = Math.max(worst, Math.abs(logp[b]![t]! - want.logp), Math.abs(entropy[b]![t]! - want.entropy));
          }
        });
        expect(worst).toBeLessThan(2 * TOL);
        tf.dispose([stats.logp, stats.entropy, input.tokens, input.attentionMask]);
      });

      it("greedy KV-cache decoding reproduces transformers' generate, and each step equals the full forward", () => {
        const g = exp.generate;
        const input = inputOf(g.prompts, g.mask);
        const before = tf.memory().numTensors;
        const { session, logits } = policy.startDecode(input, g.maxNewTokens);
        const B = g.prompts.length;
        const generated: number[][] = g.prompts.map(() => []);
        let next = logits;
        for (let s = 0; s < g.maxNewTokens; s++) {
          const ids = argmaxRows(next);
          ids.forEach((id, b) => {
            generated[b]!.push(id);
          });
          tf.dispose(next);
          if (s < g.maxNewTokens - 1) next = session.step(ids);
        }
        session.dispose();
        expect(tf.memory().numTensors).toBe(before);
        expect(generated).toEqual(g.tokens);

        // Every cached step against one full forward over prompt + generated tokens.
        const { session: s2, logits: first } = policy.startDecode(input, g.maxNewTokens);
        const stepped: tf.Tensor2D[] = [first];
        for (let s = 0; s < g.maxNewTokens - 1; s++) stepped.push(s2.step(Int32Array.from(generated.map((r) => r[s]!))));
        const fullTokens = g.prompts.map((p, b) => [...p, ...generated[b]!.slice(0, -1)]);
        const fullMask = g.mask.map((m) => [...m, ...new Array(g.maxNewTokens - 1).fill(1)]);
        const full = inputOf(fullTokens, fullMask);
        const fullLogits = policy.forward(full);
        const L = g.prompts[0]!.length;
        stepped.forEach((st, s) => {
          const ref = tf.reshape(tf.slice(fullLogits, [0, L - 1 + s, 0], [B, 1, -1]), [B, -1]);
          expect(maxAbsDiff(st.dataSync(), ref.dataSync())).toBeLessThan(1e-5);
          ref.dispose();
        });
        s2.dispose();
        tf.dispose([...stepped, fullLogits, full.tokens, full.attentionMask, input.tokens, input.attentionMask]);
      });

      it('a session that drops rows (retain) steps the rows it kept as before, without leaks', () => {
        const g = exp.generate;
        const input = inputOf(g.prompts, g.mask);
        const B = g.prompts.length;
        const before = tf.memory().numTensors;
        const tokensAt = (s: number) => Int32Array.from(g.tokens.map((r) => r[s]!));
        const all = policy.startDecode(input, g.maxNewTokens);
        const kept = policy.startDecode(input, g.maxNewTokens);
        tf.dispose([all.logits, kept.logits]);
        all.session.step(tokensAt(0)).dispose();
        kept.session.step(tokensAt(0)).dispose();
        // Keep the last row only: later steps take one token and return one row.
        kept.session.retain!([B - 1]);
        expect(kept.session.batch).toBe(1);
        for (let s = 1; s < g.maxNewTokens - 1; s++) {
          const ref = all.session.step(tokensAt(s));
          const got = kept.session.step(tokensAt(s).subarray(B - 1));
          expect(got.shape).toEqual([1, ref.shape[1]]);
          const want = tf.slice(ref, [B - 1, 0], [1, -1]);
          expect(maxAbsDiff(got.dataSync(), want.dataSync())).toBeLessThan(1e-5);
          tf.dispose([ref, got, want]);
        }
        expect(() => kept.session.retain!([1])).toThrow(/ascending indices below 1/);
        expect(() => kept.session.step(tokensAt(0))).toThrow(/expected 1 tokens/);
        all.session.dispose();
        kept.session.dispose();
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([input.tokens, input.attentionMask]);
      });

      // With RFTKIT_HF_EXPORT_DIR set, the exported folders (float32 and bfloat16) stay there with
      // rftkit's logits of them, for __fixtures__/hf/check_export.py to compare in transformers.
      it.runIf(process.env.RFTKIT_HF_EXPORT_DIR)('exports folders for the transformers check', async () => {
        for (const dtype of ['float32', 'bfloat16'] as const) {
          const dir = join(process.env.RFTKIT_HF_EXPORT_DIR!, `${model}-${dtype}`);
          await exportHfPolicy(policy, dir, { dtype });
          const back = await loadHfPolicy(dir);
          const batches = exp.batches.map((batch) => {
            const input = inputOf(batch.tokens, batch.mask);
            const logits = back.forward(input);
            const values = logits.arraySync();
            tf.dispose([logits, input.tokens, input.attentionMask]);
            return { tokens: batch.tokens, mask: batch.mask, logits: values };
          });
          back.dispose();
          writeFileSync(join(dir, 'rftkit-logits.json'), JSON.stringify({ batches }));
        }
      });

      it('export → load gives identical logits and weights under HF names', async () => {
        const dir = await mkdtemp(join(tmpdir(), `rftkit-hf-${model}-`));
        try {
          await exportHfPolicy(policy, dir);
          const back = await loadHfPolicy(dir);
          const w0 = policy.getWeights();
          const w1 = back.getWeights();
          expect(Object.keys(w1).sort()).toEqual(Object.keys(w0).sort());
          const batch = exp.batches[0]!;
          const input = inputOf(batch.tokens, batch.mask);
          const a = policy.forward(input);
          const b = back.forward(input);
          expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
          tf.dispose([a, b, input.tokens, input.attentionMask]);
          back.dispose();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });
  }

  it('weights keep HF names and layouts; a frozen clone has no trainable variables', async () => {
    const policy = await loadHfPolicy(join(FIXTURES, 'llama-gqa'));
    const w = policy.getWeights();
    expect(w['model.layers.0.self_attn.k_proj.weight']!.shape).toEqual([16, 32]);
    expect(w['model.embed_tokens.weight']!.shape).toEqual([96, 32]);
    expect('lm_head.weight' in w).toBe(false);
    const frozen = policy.clone({ trainable: false });
    expect(frozen.trainableVariables()).toEqual([]);
    expect(policy.trainableVariables().length).toBe(Object.keys(w).length);
    // setWeights takes the HF layout back unchanged.
    frozen.setWeights(w);
    expect(maxAbsDiff(frozen.getWeights()['model.layers.1.mlp.down_proj.weight']!.values, w['model.layers.1.mlp.down_proj.weight']!.values)).toBe(0);
    expect(() => frozen.setWeights({ ...w, extra: { shape: [1], values: new Float32Array(1) } })).toThrow(ShapeError);
    frozen.dispose();
    policy.dispose();
  });

  it('tokenStats in LM-head chunks of 3 tokens equals one chunk; clones are independent copies', async () => {
    const folder = join(FIXTURES, 'llama-untied');
    const whole = await loadHfPolicy(folder);
    const chunked = await loadHfPolicy(folder, { headChunkTokens: 3 });
    const batch = expected('llama-untied').batches[1]!;
    const input = inputOf(batch.tokens, batch.mask);
    const a = whole.tokenStats(input, { temperature: 1.3 });
    const b = chunked.tokenStats(input, { temperature: 1.3 });
    expect(maxAbsDiff(a.logp.dataSync(), b.logp.dataSync())).toBeLessThan(1e-6);
    // Entropy (≈ ln V here) is logZ − Σ p·z over the vocabulary: TensorFlow's threaded
    // reductions sum a 3-row chunk in another order than the whole batch, a few float32 ulps.
    expect(maxAbsDiff(a.entropy.dataSync(), b.entropy.dataSync())).toBeLessThan(1e-5);
    const before = tf.memory().numTensors;
    const copy = whole.clone({ trainable: false });
    const w = copy.getWeights();
    w['model.norm.weight']!.values.fill(0);
    copy.setWeights(w);
    const c = whole.tokenStats(input, { temperature: 1.3 });
    expect(maxAbsDiff(a.logp.dataSync(), c.logp.dataSync())).toBe(0);
    copy.dispose();
    tf.dispose([c.logp, c.entropy]);
    expect(tf.memory().numTensors).toBe(before);
    await expect(loadHfPolicy(folder, { headChunkTokens: 0 })).rejects.toThrow(/headChunkTokens/);
    tf.dispose([a.logp, a.entropy, b.logp, b.entropy, input.tokens, input.attentionMask]);
    whole.dispose();
    chunked.dispose();
  });

  it('mistral refuses sequences longer than its sliding window, naming it', async () => {
    const policy = await loadHfPolicy(join(FIXTURES, 'mistral'));
    const input = inputOf([new Array(33).fill(5)], [new Array(33).fill(1)]);
    expect(() => policy.forward(input)).toThrow(/sliding_window 32/);
    const short = inputOf([new Array(30).fill(5)], [new Array(30).fill(1)]);
    expect(() => policy.startDecode(short, 5)).toThrow(/sliding_window 32/);
    tf.dispose([input.tokens, input.attentionMask, short.tokens, short.attentionMask]);
    policy.dispose();
  });
});

describe('loadHfPolicy input errors', () => {
  it('a missing folder, or one without config.json, is a clear error naming it', async () => {
    await expect(loadHfPolicy(join(FIXTURES, 'no-such-model'))).rejects.toThrow(/no such folder/);
    await expect(loadHfPolicy(FIXTURES)).rejects.toThrow(ConfigError);
  });

  it('a folder without tokenizer files gets an ids-only tokenizer that refuses text clearly', async () => {
    const policy = await loadHfPolicy(join(FIXTURES, 'qwen2'));
    expect(policy.tokenizer.vocabSize).toBe(96);
    expect(policy.tokenizer.eosId).toBe(2);
    expect(() => policy.tokenizer.encode('hi')).toThrow(/without a tokenizer/);
    policy.dispose();
  });

});

describeBackends('HF policy gradients', () => {
  it('gradients of tokenStats reach every weight and match a finite difference', async () => {
    const policy = await loadHfPolicy(join(FIXTURES, 'qwen3'));
    const input = inputOf([[0, 5, 9, 14, 3]], [[0, 1, 1, 1, 1]]);
    // Scored positions only, as training masks them: logp[t] counts when the token at t − 1 is
    // real (the padded query at t = 0 sees no key at all).
    const scored = tf.tensor2d([[0, 0, 1, 1, 1]]);
    const loss = () => tf.tidy(() => tf.sum(tf.mul(policy.tokenStats(input, { temperature: 0.8 }).logp, scored)) as tf.Scalar);
    const vars = policy.trainableVariables();
    const { value, grads } = tf.variableGrads(loss, vars);
    const norms = vars.map((v) => tf.tidy(() => tf.norm(grads[v.name]!).dataSync()[0]!));
    expect(norms.every((n) => Number.isFinite(n) && n > 0)).toBe(true);
    // Central difference for one entry of a (non-transposed) weight; trainableVariables()
    // follow getWeights' order.
    const name = 'model.layers.1.self_attn.q_norm.weight';
    const w = policy.getWeights();
    const variable = vars[Object.keys(w).indexOf(name)]!;
    const analytic = grads[variable.name]!.dataSync()[3]!;
    const eps = 1e-3;
    const base = w[name]!.values;
    const at = (delta: number) => {
      policy.setWeights({ ...w, [name]: { shape: w[name]!.shape, values: base.map((x, i) => (i === 3 ? x + delta : x)) } });
      const l = loss();
      const out = l.dataSync()[0]!;
      l.dispose();
      return out;
    };
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    policy.setWeights(w);
    expect(Math.abs(numeric - analytic)).toBeLessThan(5e-3 * Math.max(1, Math.abs(analytic)));
    tf.dispose([value, scored, ...Object.values(grads), input.tokens, input.attentionMask]);
    policy.dispose();
  });
});
