// The HF policy's memory knobs (LM-head chunks forward and backward, block recomputation)
// change no number: values and gradients of every weight equal the full-logits form.
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { tokenLogProbsComposite } from '@rftkit/tensor';
import { describeBackends } from '@rftkit/tensor/testing';
import { expect, it } from 'vitest';
import { embedRows } from './blocks';
import { type HfPolicy, loadHfPolicy } from './index';

const FIXTURES = join(import.meta.dirname, '..', '__fixtures__', 'hf');

// Row 1 is left-padded; its padded positions and the one scored by a padded state are masked.
const TOKENS = [
  [4, 9, 17, 33, 2, 71, 8],
  [0, 0, 5, 12, 40, 7, 90],
];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1],
  [0, 0, 1, 1, 1, 1, 1],
];
const SCORED = [
  [0, 1, 1, 1, 1, 1, 1],
  [0, 0, 0, 1, 1, 1, 1],
];

function input() {
  return { tokens: tf.tensor2d(TOKENS, undefined, 'int32'), attentionMask: tf.tensor2d(MASK) };
}

/** Σ scored·(logp + 0.3·entropy) at temperature T, from tokenStats or from full logits. */
function loss(policy: HfPolicy, T: number, full: boolean): tf.Scalar {
  const x = input();
  const scored = tf.tensor2d(SCORED);
  const out = tf.tidy(() => {
    let logp: tf.Tensor;
    let entropy: tf.Tensor;
    if (full) {
      const logits = tf.slice(policy.forward(x), [0, 0, 0], [2, TOKENS[0]!.length - 1, -1]);
      const s = tokenLogProbsComposite(logits, tf.slice(x.tokens, [0, 1], [2, -1]), T);
      const pad: Array<[number, number]> = [
        [0, 0],
        [1, 0],
      ];
      [logp, entropy] = [tf.pad(s.logp, pad), tf.pad(s.entropy, pad)];
    } else {
      ({ logp, entropy } = policy.tokenStats(x, { temperature: T }));
    }
    return tf.sum(tf.mul(scored, tf.add(logp, tf.mul(entropy, 0.3)))) as tf.Scalar;
  });
  tf.dispose([x.tokens, x.attentionMask, scored]);
  return out;
}

function gradsOf(policy: HfPolicy, T: number, full: boolean): { value: number; grads: Float32Array[] } {
  const vars = policy.trainableVariables();
  const { value, grads } = tf.variableGrads(() => loss(policy, T, full), vars);
  const out = { value: value.dataSync()[0]!, grads: vars.map((v) => Float32Array.from(grads[v.name]!.dataSync())) };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

function expectClose(got: Float32Array[], want: Float32Array[], tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  got.forEach((g, i) => {
    const w = want[i]!;
    for (let j = 0; j < g.length; j++) worst = Math.max(worst, Math.abs(g[j]! - w[j]!) / (1 + Math.abs(w[j]!)));
  });
  expect(worst).toBeLessThan(tol);
}

describeBackends('HF policy memory knobs keep every number', () => {
  for (const model of ['llama-gqa', 'llama-untied', 'gpt2']) {
    it(`${model}: LM-head chunks of 1, 4, 5, 100 tokens give the full-logits values and gradients at T 1 and 0.7, no leaks`, async () => {
      const ref = await loadHfPolicy(join(FIXTURES, model));
      for (const T of [1, 0.7]) {
        const want = gradsOf(ref, T, true);
        for (const chunk of [1, 4, 5, 100]) {
          const policy = await loadHfPolicy(join(FIXTURES, model), { headChunkTokens: chunk });
          const before = tf.memory().numTensors;
          const got = gradsOf(policy, T, false);
          expect(tf.memory().numTensors).toBe(before);
          expect(Math.abs(got.value - want.value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want.value)));
          expectClose(got.grads, want.grads, 1e-5);
          policy.dispose();
        }
      }
      ref.dispose();
    });
  }

  for (const model of ['llama-gqa', 'qwen3', 'gpt2']) {
    it(`${model}: recompute gives the same values and gradients (alone and with head chunks), no leaks`, async () => {
      const ref = await loadHfPolicy(join(FIXTURES, model));
      const want = gradsOf(ref, 0.7, false);
      for (const headChunkTokens of [undefined, 5]) {
        const policy = await loadHfPolicy(join(FIXTURES, model), { recompute: true, headChunkTokens });
        expect(policy.config().recompute).toBe(true);
        const before = tf.memory().numTensors;
        const got = gradsOf(policy, 0.7, false);
        expect(tf.memory().numTensors).toBe(before);
        expect(Math.abs(got.value - want.value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want.value)));
        expectClose(got.grads, want.grads, 1e-5);
        // Outside a tape (old log-probs, a frozen reference) the values are the same too.
        const frozen = policy.clone({ trainable: false });
        const a = tf.tidy(() => frozen.tokenStats(input(), { temperature: 0.7 }).logp.dataSync());
        const b = tf.tidy(() => ref.tokenStats(input(), { temperature: 0.7 }).logp.dataSync());
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
        frozen.dispose();
        policy.dispose();
      }
      ref.dispose();
    });
  }

  it('recompute lowers the peak memory of a gradient (only block inputs are kept)', async () => {
    const B = 4;
    const T = 24;
    const tokens = tf.tensor2d(Array.from({ length: B * T }, (_, i) => 3 + ((i * 7) % 90)), [B, T], 'int32');
    const attentionMask = tf.ones([B, T]) as tf.Tensor2D;
    const peak = async (policy: HfPolicy) => {
      const before = tf.memory().numBytes;
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.neg(tf.sum(policy.tokenStats({ tokens, attentionMask }).logp)) as tf.Scalar), policy.trainableVariables());
        tf.dispose([value, ...Object.values(grads)]);
      });
      return info.peakBytes - before;
    };
    const plain = await loadHfPolicy(join(FIXTURES, 'llama-gqa'));
    const recomputed = await loadHfPolicy(join(FIXTURES, 'llama-gqa'), { recompute: true });
    const [p, r] = [await peak(plain), await peak(recomputed)];
    expect(r).toBeLessThan(0.8 * p);
    tf.dispose([tokens, attentionMask]);
    plain.dispose();
    recomputed.dispose();
  });

  it('embedding rows equal the one-hot product, values and gradient (repeated ids summed)', () => {
    const table = tf.tidy(() => tf.randomNormal([11, 5], 0, 1, 'float32', 3));
    const ids = tf.tensor1d([3, 0, 3, 10, 7, 3, 1], 'int32');
    const dy = tf.tidy(() => tf.randomNormal([7, 5], 0, 1, 'float32', 4));
    const before = tf.memory().numTensors;
    const [got, want] = [(t: tf.Tensor) => embedRows(t, ids), (t: tf.Tensor) => tf.matMul(tf.cast(tf.oneHot(ids, 11), 'float32'), t)].map((f) =>
      tf.tidy(() => {
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dy)))(table);
        return [f(table).dataSync(), g.dataSync()];
      }),
    ) as [Float32Array[], Float32Array[]];
    expect(tf.memory().numTensors).toBe(before);
    expectClose(got, want, 1e-6);
    tf.dispose([table, ids, dy]);
  });

  it('a recompute flag that is not a boolean is refused, naming it', async () => {
    await expect(loadHfPolicy(join(FIXTURES, 'llama-gqa'), { recompute: 'yes' as unknown as boolean })).rejects.toThrow(/recompute/);
  });
});
