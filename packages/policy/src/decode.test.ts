import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
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

  it('rows that repeat a prompt share its prefill and decode exactly as they would alone', async () => {
    const policy = createTransformerPolicy({ tokenizer, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 16, seed: 4 });
    randomizeWeights(policy, 12);
    const prompts = [[1, 3, 4, 5], [1, 8, 9]];
    // Rows 0, 2 and 3 repeat prompt 0; row 1 is prompt 1 (as a group of samples would be).
    const rows = [prompts[0]!, prompts[1]!, prompts[0]!, prompts[0]!];
    const steps = 3;
    const feed = [Int32Array.from([3, 4, 5, 6]), Int32Array.from([7, 3, 8, 9])];
    const run = async (batch: number[][]) => {
      const input = leftPad(batch, 4);
      const { session, logits } = policy.startDecode(input, steps);
      tf.dispose([input.tokens, input.attentionMask]);
      const out = [Array.from(logits.dataSync())];
      logits.dispose();
      for (const f of feed) {
        const l = session.step(f.subarray(0, batch.length));
        out.push(Array.from(l.dataSync()));
        l.dispose();
      }
      session.dispose();
      return out;
    };
    const V = tokenizer.vocabSize;
    await expectNoLeaks(async () => {
      // Every row the same prompt: one distinct row, copied to all (prefill logits equal).
      const same = await run([rows[0]!, rows[0]!, rows[0]!]);
      for (let r = 1; r < 3; r++) expect(same[0]!.slice(r * V, (r + 1) * V)).toEqual(same[0]!.slice(0, V));
      const together = await run(rows);
      // Each row decoded on its own, with its own continuation tokens.
      for (let r = 0; r < rows.length; r++) {
        const input = leftPad([rows[r]!], 4);
        const { session, logits } = policy.startDecode(input, steps);
        tf.dispose([input.tokens, input.attentionMask]);
        const alone = [Array.from(logits.dataSync())];
        logits.dispose();
        for (const f of feed) {
          const l = session.step(f.subarray(r, r + 1));
          alone.push(Array.from(l.dataSync()));
          l.dispose();
        }
        session.dispose();
        alone.forEach((step, s) => {
          expectAllClose(together[s]!.slice(r * V, (r + 1) * V), step, { rtol: 1e-5, atol: 1e-6, label: `row ${r} step ${s}` });
        });
      }
    });
    policy.dispose();
  });

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
