// The engine over the real transformer policy: what it records must be what the policy
// computes when it scores the same tokens.
import { Rng, type Policy, type RolloutBatch } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import { createCharTokenizer, createTransformerPolicy, encodePrompt } from '@rftkit/policy';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRolloutEngine } from './engine';
import { encodePromptIds } from './prompt';
import { sampling } from './test-utils/fixtures';

const tokenizer = createCharTokenizer({ alphabet: '0123456789+-*=() ' });

/** Larger-than-init weights so next-token distributions differ from position to position. */
function randomize(policy: Policy, seed: number): void {
  const rng = new Rng(seed);
  const weights = policy.getWeights();
  for (const w of Object.values(weights)) w.values = Float32Array.from(w.values, () => rng.normal() * 0.3);
  policy.setWeights(weights);
}

it('uses the same prompt encoding as @rftkit/policy', () => {
  for (const text of ['', '12+3=', '(4 * 5)']) expect(encodePromptIds(tokenizer, text)).toEqual(encodePrompt(tokenizer, text));
});

describeBackends('rollout engine over the transformer policy', () => {
  let policy: Policy;
  beforeAll(() => {
    policy = createTransformerPolicy({ tokenizer, dModel: 32, nLayers: 2, nHeads: 4, maxSeqLen: 32, seed: 1 });
    randomize(policy, 2);
  });
  afterAll(() => policy.dispose());

  for (const temperature of [0.7, 1.3]) {
    it(`behaviourLogp at T=${temperature} equals policy.tokenStats at T; logpT1 equals tokenStats at 1`, async () => {
      const engine = createRolloutEngine({ policy });
      const prompts = [
        { id: 'a', prompt: '12+3=' },
        { id: 'b', prompt: '(4 * 5) - 6=' },
        { id: 'c', prompt: '' },
      ];
      const b = await expectNoLeaks(() =>
        engine.generate({ prompts, samplesPerPrompt: 3, sampling: sampling({ temperature, maxNewTokens: 10 }), seed: 4, step: 1 }),
      );
      const [atT, atOne] = tf.tidy(() => {
        const input = {
          tokens: tf.tensor2d(b.tokens, [b.rows, b.seqLen], 'int32'),
          attentionMask: tf.tensor2d(b.attentionMask, [b.rows, b.seqLen]),
        };
        return [
          policy.tokenStats(input, { temperature }).logp.dataSync(),
          policy.tokenStats(input, { temperature: 1 }).logp.dataSync(),
        ];
      });
      const on = (x: ArrayLike<number>) => Array.from(x).filter((_, i) => b.responseMask[i] === 1);
      expect(on(b.responseMask).length).toBeGreaterThan(b.rows);
      expectAllClose(on(b.behaviourLogp), on(atT!), { atol: 1e-4, rtol: 0, label: 'behaviourLogp' });
      expectAllClose(on(b.logpT1), on(atOne!), { atol: 1e-4, rtol: 0, label: 'logpT1' });
    });
  }

  it('cuts responses at maxSeqLen and scores the full-length batch', async () => {
    const engine = createRolloutEngine({ policy });
    const long = '1234567890+1234567890-123'; // 26 tokens with bos: room for 6 of maxSeqLen 32
    const b = await expectNoLeaks(() =>
      engine.generate({ prompts: [{ id: 'long', prompt: long }], samplesPerPrompt: 4, sampling: sampling({ maxNewTokens: 50 }), seed: 1, step: 0 }),
    );
    expect(b.seqLen).toBeLessThanOrEqual(32);
    for (let r = 0; r < b.rows; r++) {
      const n = b.responseMask.subarray(r * b.seqLen, (r + 1) * b.seqLen).reduce((a, m) => a + m, 0);
      expect(b.finishReason[r] === 'length' ? n === 6 : n <= 6).toBe(true);
    }
  });

  it("a row does not change when a longer prompt joins the batch (padding is masked)", async () => {
    const engine = createRolloutEngine({ policy });
    const base = { samplesPerPrompt: 4, sampling: sampling({ maxNewTokens: 12 }), seed: 8, step: 2 };
    const alone = await engine.generate({ ...base, prompts: [{ id: 'a', prompt: '7*8=' }] });
    const mixed = await engine.generate({ ...base, prompts: [{ id: 'a', prompt: '7*8=' }, { id: 'b', prompt: '(12 + 34) * 5=' }] });
    expect(mixed.responses.slice(0, 4)).toEqual(alone.responses);
    const on = (x: RolloutBatch, r: number) =>
      Array.from(x.behaviourLogp.subarray(r * x.seqLen, (r + 1) * x.seqLen)).filter((_, t) => x.responseMask[r * x.seqLen + t]);
    for (let r = 0; r < 4; r++) expectAllClose(on(mixed, r), on(alone, r), { atol: 1e-4, rtol: 0 });
  });

  it('a session that drops finished rows (DecodeSession.retain) gives the same batch while stepping fewer rows', async () => {
    // The transformer policy's session with retain on top: dropped rows are fed padding
    // underneath and their logits left out, so only the engine's bookkeeping differs.
    const stepRows: number[] = [];
    const dropping = Object.create(policy, {
      startDecode: {
        value: (input: Parameters<Policy['startDecode']>[0], maxNew: number) => {
          const inner = policy.startDecode(input, maxNew);
          let live = Array.from({ length: inner.session.batch }, (_, r) => r);
          const session = {
            get batch() {
              return live.length;
            },
            step(tokens: Int32Array) {
              stepRows.push(tokens.length);
              const all = new Int32Array(inner.session.batch).fill(tokenizer.padId);
              live.forEach((r, i) => {
                all[r] = tokens[i]!;
              });
              const logits = inner.session.step(all);
              const kept = tf.tidy(() => tf.gather(logits, tf.tensor1d(live, 'int32'))) as tf.Tensor2D;
              logits.dispose();
              return kept;
            },
            retain(rows: readonly number[]) {
              live = rows.map((i) => live[i]!);
            },
            dispose: () => inner.session.dispose(),
          };
          return { session, logits: inner.logits };
        },
      },
    }) as Policy;
    const prompts = [
      { id: 'a', prompt: '12+3=' },
      { id: 'b', prompt: '(4 * 5) - 6=' },
      { id: 'c', prompt: '7' },
    ];
    // Rows stop after 1 to 9 tokens, so they finish at different steps.
    const rowSampling = ({ prompt, sample }: { prompt: number; sample: number }) => sampling({ maxNewTokens: 1 + ((prompt * 4 + sample * 3) % 9) });
    const request = { prompts, samplesPerPrompt: 3, seed: 5, step: 2 };
    const plain = await createRolloutEngine({ policy }).generateRows(request, rowSampling);
    const dropped = await expectNoLeaks(() => createRolloutEngine({ policy: dropping }).generateRows(request, rowSampling));
    expect(dropped).toEqual(plain);
    expect(stepRows[0]).toBeLessThan(9);
    expect(stepRows.every((n, i) => i === 0 || n <= stepRows[i - 1]!)).toBe(true);
    expect(stepRows[stepRows.length - 1]).toBeLessThan(stepRows[0]!);
  });
});
