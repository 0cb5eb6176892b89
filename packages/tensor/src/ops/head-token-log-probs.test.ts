import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../testing/backends';
import { expectAllClose } from '../testing/close';
import { seededTensor } from '../testing/random';
import { headTokenLogProbs } from './head-token-log-probs';
import { tokenLogProbsComposite } from './token-log-probs';

const N = 13;
const D = 8;
const V = 37;

/** The reference: full `[N, V]` logits and tfjs autodiff through the composite log-softmax. */
function dense(h: tf.Tensor2D, w: tf.Tensor2D, t: tf.Tensor1D, temperature: number) {
  const s = tokenLogProbsComposite(tf.matMul(h, w, false, true), t, temperature);
  return { logp: s.logp as tf.Tensor1D, entropy: s.entropy as tf.Tensor1D };
}

/** Values of logp and entropy, and gradients in hidden and weight of Σ(a·logp + b·entropy)·mask. */
function run(
  f: (h: tf.Tensor2D, w: tf.Tensor2D, t: tf.Tensor1D) => { logp: tf.Tensor1D; entropy: tf.Tensor1D },
  h: tf.Tensor2D,
  w: tf.Tensor2D,
  t: tf.Tensor1D,
  a: tf.Tensor1D,
  b: tf.Tensor1D,
) {
  return tf.tidy(() => {
    const s = f(h, w, t);
    const g = tf.grads((hh: tf.Tensor, ww: tf.Tensor) => {
      const r = f(hh as tf.Tensor2D, ww as tf.Tensor2D, t);
      return tf.sum(tf.add(tf.mul(r.logp, a), tf.mul(r.entropy, b)));
    })([h, w]);
    return { logp: s.logp.dataSync(), entropy: s.entropy.dataSync(), dh: g[0]!.dataSync(), dw: g[1]!.dataSync() };
  });
}

describeBackends('headTokenLogProbs (chunked LM head)', () => {
  const close = { rtol: 1e-5, atol: 1e-5 };
  it('with a frozen weight variable (LoRA base), d hidden equals the trainable case, multi-chunk, without leaks', () => {
    const h0 = seededTensor([N, D], 21) as tf.Tensor2D;
    const w0 = seededTensor([V, D], 22) as tf.Tensor2D;
    const t = tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 7) % V), 'int32');
    const hidden = tf.variable(h0, true, 'head-test-hidden');
    const frozen = tf.variable(w0, false, 'head-test-frozen-weight');
    const before = tf.memory().numTensors;
    const dh = (w: tf.Tensor2D) =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tf.sum(headTokenLogProbs(hidden, w, t, { chunkTokens: 4 }).logp) as tf.Scalar, [hidden]);
        return grads[hidden.name]!.dataSync();
      });
    expectAllClose(dh(frozen), dh(w0), close);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([h0, w0, t, hidden, frozen]);
  });

  for (const temperature of [1, 0.7]) {
    for (const chunkTokens of [1, 4, 5, 13, 64]) {
      it(`T=${temperature}, chunk ${chunkTokens} of ${N} tokens: values and grads (hidden, head) equal the full logits, no leaks`, () => {
        const h = seededTensor([N, D], 1) as tf.Tensor2D;
        const w = seededTensor([V, D], 2) as tf.Tensor2D;
        const t = tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 11) % V), 'int32');
        // Loss weights; the zeros stand for padded / masked positions.
        const a = tf.tensor1d(Array.from({ length: N }, (_, i) => (i < 3 ? 0 : 1 + 0.1 * i)));
        const b = tf.tensor1d(Array.from({ length: N }, (_, i) => (i < 3 ? 0 : 0.5 - 0.05 * i)));
        const want = run((x, y, z) => dense(x, y, z, temperature), h, w, t, a, b);
        const before = tf.memory().numTensors;
        const got = run((x, y, z) => headTokenLogProbs(x, y, z, { temperature, chunkTokens }), h, w, t, a, b);
        expect(tf.memory().numTensors).toBe(before);
        expectAllClose(got.logp, want.logp, close);
        expectAllClose(got.entropy, want.entropy, close);
        expectAllClose(got.dh, want.dh, close);
        expectAllClose(got.dw, want.dw, close);
        // Masked positions get no gradient into their hidden rows.
        expect(Array.from(got.dh.slice(0, 3 * D)).every((x) => x === 0)).toBe(true);
        tf.dispose([h, w, t, a, b]);
      });
    }
  }

  it('rows are independent of the batch they are computed in (micro-batching)', () => {
    const h = seededTensor([N, D], 3) as tf.Tensor2D;
    const w = seededTensor([V, D], 4) as tf.Tensor2D;
    const t = tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 5) % V), 'int32');
    const whole = tf.tidy(() => headTokenLogProbs(h, w, t, { chunkTokens: 4, temperature: 0.7 }).logp.dataSync());
    const parts = tf.tidy(() =>
      tf
        .concat([
          headTokenLogProbs(tf.slice(h, [0, 0], [6, D]), w, tf.slice(t, [0], [6]), { chunkTokens: 5, temperature: 0.7 }).logp,
          headTokenLogProbs(tf.slice(h, [6, 0], [N - 6, D]), w, tf.slice(t, [6], [N - 6]), { chunkTokens: 3, temperature: 0.7 }).logp,
        ])
        .dataSync(),
    );
    expectAllClose(parts, whole, { rtol: 1e-6, atol: 1e-6 });
    tf.dispose([h, w, t]);
  });

  it('the [N, V] logits never exist, forward or backward: the peak of a gradient does not grow with N', async () => {
    const [d, v] = [4, 4096];
    const w = seededTensor([v, d], 6) as tf.Tensor2D;
    const peak = async (n: number, f: typeof dense) => {
      const h = seededTensor([n, d], 5) as tf.Tensor2D;
      const t = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7) % v), 'int32');
      const before = tf.memory().numBytes;
      const info = await tf.profile(() => {
        const g = tf.grads((hh: tf.Tensor, ww: tf.Tensor) => tf.sum(f(hh as tf.Tensor2D, ww as tf.Tensor2D, t, 1).logp))([h, w]);
        tf.dispose(g);
      });
      tf.dispose([h, t]);
      return info.peakBytes - before;
    };
    const chunked = (x: tf.Tensor2D, y: tf.Tensor2D, z: tf.Tensor1D, temperature: number) => headTokenLogProbs(x, y, z, { temperature, chunkTokens: 16 });
    const small = await peak(256, chunked);
    const large = await peak(1024, chunked);
    const full = await peak(1024, dense);
    expect(full).toBeGreaterThan(1024 * v * 4);
    // A chunk's [16, V] buffers (how many at once depends on the backend's kernels), the
    // inputs and d w: the same at 4× the tokens, and far below one [N, V] buffer.
    expect(large).toBeLessThan(small * 1.25);
    expect(large).toBeLessThan(full / 4);
    tf.dispose(w);
  });

  it('rejects a bad chunk size or mismatched shapes', () => {
    const h = tf.zeros([2, D]) as tf.Tensor2D;
    const w = tf.zeros([V, D]) as tf.Tensor2D;
    const t = tf.tensor1d([0, 1], 'int32');
    expect(() => headTokenLogProbs(h, w, t, { chunkTokens: 0 })).toThrow(/chunkTokens/);
    expect(() => headTokenLogProbs(h, tf.zeros([V, D + 1]) as tf.Tensor2D, t, { chunkTokens: 2 })).toThrow(/weight/);
    expect(() => headTokenLogProbs(h, w, tf.tensor1d([0], 'int32'), { chunkTokens: 2 })).toThrow(/targets/);
    tf.dispose([h, w, t]);
  });
});
