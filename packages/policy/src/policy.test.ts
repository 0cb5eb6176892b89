import * as tf from '@tensorflow/tfjs-core';
import { isRftError } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import { selectBackend } from '@rftkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTransformerPolicy } from './policy';
import { trainSft } from './sft';
import { leftPad, randomizeWeights } from './test-helpers';
import { createCharTokenizer } from './tokenizer';

const tokenizer = createCharTokenizer({ alphabet: 'abcdef' });
const small = { tokenizer, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 12 } as const;

describe('createTransformerPolicy options', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('fills documented defaults', () => {
    const p = createTransformerPolicy({ tokenizer });
    expect(p.config()).toEqual({
      type: 'transformer',
      dModel: 64,
      nLayers: 2,
      nHeads: 4,
      dFF: 256,
      maxSeqLen: 64,
      positions: 'learned',
      seed: 0,
    });
    expect(p.maxSeqLen).toBe(64);
    p.dispose();
  });

  it('rejects bad sizes naming the field', () => {
    expect(() => createTransformerPolicy({ tokenizer, dModel: 10, nHeads: 4 })).toThrow(/nHeads: must divide dModel \(10\)/);
    expect(() => createTransformerPolicy({ tokenizer, dModel: 12, nHeads: 4, positions: 'rotary' })).toThrow(
      /even head size/,
    );
    expect(() => createTransformerPolicy({ tokenizer, positions: 'alibi' as never })).toThrow(/positions/);
    expect(() => createTransformerPolicy({ tokenizer: undefined as never })).toThrow(/tokenizer/);
  });
});

describeBackends('transformer policy', () => {
  it('initialises deterministically from the seed', () => {
    const a = createTransformerPolicy({ ...small, seed: 7 });
    const b = createTransformerPolicy({ ...small, seed: 7 });
    const c = createTransformerPolicy({ ...small, seed: 8 });
    const wa = a.getWeights();
    const wb = b.getWeights();
    const wc = c.getWeights();
    expect(Object.keys(wa)).toEqual(Object.keys(wb));
    for (const name of Object.keys(wa)) expect(wb[name]!.values).toEqual(wa[name]!.values);
    expect(wc['tok_emb']!.values).not.toEqual(wa['tok_emb']!.values);
    // GPT-2 init scale, LayerNorm gains at 1.
    const emb = wa['tok_emb']!.values;
    const std = Math.sqrt(emb.reduce((s, v) => s + v * v, 0) / emb.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
    expect(Array.from(wa['blocks.0.ln1.gamma']!.values).every((v) => v === 1)).toBe(true);
    for (const p of [a, b, c]) p.dispose();
  });

  for (const positions of ['learned', 'rotary'] as const) {
    it(`left padding does not change a row's logits (${positions})`, async () => {
      const policy = createTransformerPolicy({ ...small, positions, seed: 1 });
      randomizeWeights(policy, 2);
      const row = [1, 3, 5, 4, 8];
      const padded = leftPad([row, [1, 3, 4, 5, 6, 7, 8, 3]]);
      const alone = leftPad([row]);
      await expectNoLeaks(async () => {
        const lp = policy.forward(padded);
        const la = policy.forward(alone);
        expect(lp.shape).toEqual([2, 8, tokenizer.vocabSize]);
        const p = (await lp.array()) as number[][][];
        const a = (await la.array()) as number[][][];
        for (let t = 0; t < row.length; t++) expectAllClose(p[0]![3 + t]!, a[0]![t]!, { atol: 1e-4, label: `t=${t}` });
        tf.dispose([lp, la]);
      });
      tf.dispose([padded.tokens, padded.attentionMask, alone.tokens, alone.attentionMask]);
      policy.dispose();
    });
  }

  it('tokenStats at T = 0.7 equals log-softmax and entropy computed by hand from forward', async () => {
    const policy = createTransformerPolicy({ ...small, positions: 'rotary', seed: 4 });
    randomizeWeights(policy, 9);
    const input = leftPad([
      [1, 3, 4, 5, 2],
      [1, 6, 8],
    ]);
    const T = 0.7;
    await expectNoLeaks(async () => {
      const forward = policy.forward(input);
      const logits = (await forward.array()) as number[][][];
      forward.dispose();
      const stats = policy.tokenStats(input, { temperature: T });
      const logp = (await stats.logp.array()) as number[][];
      const entropy = (await stats.entropy.array()) as number[][];
      const tokens = (await input.tokens.array()) as number[][];
      for (let b = 0; b < 2; b++) {
        expect(logp[b]![0]).toBe(0);
        expect(entropy[b]![0]).toBe(0);
        for (let t = 1; t < 5; t++) {
          const z = logits[b]![t - 1]!.map((v) => v / T);
          const m = Math.max(...z);
          const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
          const lp = z.map((v) => v - lse);
          const h = -lp.reduce((s, v) => s + Math.exp(v) * v, 0);
          expect(logp[b]![t]).toBeCloseTo(lp[tokens[b]![t]!]!, 4);
          expect(entropy[b]![t]).toBeCloseTo(h, 4);
        }
      }
      tf.dispose([stats.logp, stats.entropy]);
    });
    tf.dispose([input.tokens, input.attentionMask]);
    policy.dispose();
  });

  it('a clone is independent of the original after training; a frozen clone has no trainable variables', async () => {
    const policy = createTransformerPolicy({ ...small, seed: 5 });
    const clone = policy.clone();
    const frozen = policy.clone({ trainable: false });
    expect(clone.trainableVariables()).toHaveLength(policy.trainableVariables().length);
    expect(frozen.trainableVariables()).toHaveLength(0);
    const before = policy.getWeights();
    await trainSft({
      policy,
      examples: [{ prompt: 'ab', completion: 'ba' }],
      steps: 2,
      examplesPerStep: 2,
      learningRate: 1e-2,
      seed: 0,
    });
    const after = policy.getWeights();
    const c = clone.getWeights();
    const f = frozen.getWeights();
    expect(after['head.w']!.values).not.toEqual(before['head.w']!.values);
    for (const name of Object.keys(before)) {
      expect(c[name]!.values).toEqual(before[name]!.values);
      expect(f[name]!.values).toEqual(before[name]!.values);
    }
    // And the other way round: training the clone leaves the original alone.
    await trainSft({ policy: clone, examples: [{ prompt: 'c', completion: 'd' }], steps: 1, examplesPerStep: 1, learningRate: 1e-2, seed: 1 });
    expect(policy.getWeights()['head.w']!.values).toEqual(after['head.w']!.values);
    for (const p of [policy, clone, frozen]) p.dispose();
  });

  it('setWeights rejects unknown names and wrong shapes; forward rejects too-long input', () => {
    const policy = createTransformerPolicy({ ...small });
    const w = policy.getWeights();
    expect(() => policy.setWeights({ ...w, extra: { shape: [1], values: new Float32Array(1) } })).toThrow(/unknown: extra/);
    expect(() => policy.setWeights({ ...w, 'head.w': { shape: [9, 16], values: new Float32Array(144) } })).toThrow(
      /'head.w' has shape \[9,16\]/,
    );
    const long = leftPad([Array.from({ length: 13 }, () => 3)]);
    let error: unknown;
    try {
      policy.forward(long);
    } catch (e) {
      error = e;
    }
    expect(isRftError(error) && /maxSeqLen 12/.test((error as Error).message)).toBe(true);
    tf.dispose([long.tokens, long.attentionMask]);
    const input = leftPad([[1, 3]]);
    expect(() => policy.tokenStats(input, { temperature: 0 })).toThrow(/temperature: must be a finite number > 0/);
    tf.dispose([input.tokens, input.attentionMask]);
    policy.dispose();
  });

  it('getWeights returns copies and setWeights copies its input', () => {
    const policy = createTransformerPolicy({ ...small });
    const w = policy.getWeights();
    const original = w['head.w']!.values[0]!;
    w['head.w']!.values[0] = 123;
    expect(policy.getWeights()['head.w']!.values[0]).toBe(original);
    policy.setWeights(w);
    w['head.w']!.values[0] = 456;
    expect(policy.getWeights()['head.w']!.values[0]).toBe(123);
    policy.dispose();
  });

  it('trainable variables receive gradients through tokenStats', () => {
    const policy = createTransformerPolicy({ ...small, positions: 'rotary' });
    const input = leftPad([[1, 3, 4, 5], [1, 6]]);
    const { value, grads } = tf.variableGrads(() => {
      const s = policy.tokenStats(input);
      return tf.add(tf.sum(s.logp), tf.sum(s.entropy)) as tf.Scalar;
    }, policy.trainableVariables());
    const names = policy.trainableVariables().map((v) => v.name);
    expect(Object.keys(grads).sort()).toEqual([...names].sort());
    const norms = Object.values(grads).map((g) => tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]!));
    expect(norms.every((n) => Number.isFinite(n))).toBe(true);
    expect(norms.filter((n) => n > 0).length).toBe(norms.length);
    tf.dispose([value, ...Object.values(grads), input.tokens, input.attentionMask]);
    policy.dispose();
  });
});
