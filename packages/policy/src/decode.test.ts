import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/core/testing';
import { expect, it } from 'vitest';
import { createTransformerPolicy } from './policy';
import { leftPad, randomizeWeights } from './test-helpers';
import { createCharTokenizer } from './tokenizer';

const tokenizer = createCharTokenizer({ alphabet: 'abcdefgh' });

describeBackends('KV-cached decoding', () => {
  for (const positions of ['learned', 'rotary'] as const) {
    it(`step logits equal the full forward's for ragged left-padded prompts (${positions})`, async () => {
      const policy = createTransformerPolicy({ tokenizer, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 16, positions, seed: 3 });
      randomizeWeights(policy, 11);
      const rng = new Rng(5);
      const V = tokenizer.vocabSize;
      const prompts = [[1, 3, 4, 5, 6, 7], [1, 8], [1, 9, 10, 3]];
      const B = prompts.length;
      const P = 6;
      const steps = 4;
      const cont = prompts.map(() => Array.from({ length: steps }, () => 3 + rng.int(V - 3)));

      // Same left padding as the prompts: the full rows are prompt + continuation.
      const full = leftPad(
        prompts.map((p, i) => [...p, ...cont[i]!]),
        P + steps,
      );
      const fullLogits = policy.forward(full);
      const fl = (await fullLogits.array()) as number[][][];

      const prompt = leftPad(prompts, P);
      await expectNoLeaks(async () => {
        const { session, logits } = policy.startDecode(prompt, steps);
        expect(session.batch).toBe(B);
        const got: number[][][] = [(await logits.array()) as number[][]];
        logits.dispose();
        for (let s = 0; s < steps - 1; s++) {
          const out = session.step(Int32Array.from(cont.map((c) => c[s]!)));
          got.push((await out.array()) as number[][]);
          out.dispose();
        }
        session.dispose();
        for (let s = 0; s < steps; s++) {
          for (let b = 0; b < B; b++) {
            expectAllClose(got[s]![b]!, fl[b]![P - 1 + s]!, { atol: 1e-4, rtol: 1e-4, label: `step ${s} row ${b}` });
          }
        }
        // The comparison means something only if logits vary between rows and steps.
        expect(Math.abs(got[0]![0]![3]! - got[1]![0]![3]!)).toBeGreaterThan(1e-2);
        expect(Math.abs(got[0]![0]![3]! - got[0]![1]![3]!)).toBeGreaterThan(1e-2);
      });
      tf.dispose([full.tokens, full.attentionMask, fullLogits, prompt.tokens, prompt.attentionMask]);
      policy.dispose();
    });
  }

  it('refuses to step past maxNewTokens and past maxSeqLen', () => {
    const policy = createTransformerPolicy({ tokenizer, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8 });
    const prompt = leftPad([[1, 3, 4]]);
    expect(() => policy.startDecode(prompt, 6)).toThrow(/maxSeqLen 8/);
    const { session, logits } = policy.startDecode(prompt, 1);
    logits.dispose();
    tf.dispose(session.step(Int32Array.of(3)));
    expect(() => session.step(Int32Array.of(3))).toThrow(/maxNewTokens/);
    session.dispose();
    tf.dispose([prompt.tokens, prompt.attentionMask]);
    policy.dispose();
  });
});
