import * as tf from '@tensorflow/tfjs-core';
import { OptionsError } from '@rftkit/core';
import { describeBackends, expectNoLeaks } from '@rftkit/tensor/testing';
import { expect, it } from 'vitest';
import { createTransformerPolicy } from './policy';
import { trainSft } from './sft';
import { createCharTokenizer } from './tokenizer';

const tokenizer = createCharTokenizer({ alphabet: 'abc>' });
// Reverse a 3-letter string: 27 examples, completion depends on every prompt character.
const examples = [...'abc'].flatMap((x) =>
  [...'abc'].flatMap((y) => [...'abc'].map((z) => ({ prompt: `${x}${y}${z}>`, completion: `${z}${y}${x}` }))),
);

describeBackends('trainSft', () => {
  it('loss falls clearly on a toy reverse task, without leaks', async () => {
    const policy = createTransformerPolicy({ tokenizer, dModel: 32, nLayers: 1, nHeads: 4, maxSeqLen: 10, seed: 1 });
    const steps: number[] = [];
    const { losses } = await expectNoLeaks(() =>
      trainSft({
        policy,
        examples,
        steps: 50,
        examplesPerStep: 12,
        learningRate: 1e-2,
        seed: 0,
        onStep: ({ step }) => steps.push(step),
      }),
    );
    expect(steps).toEqual(losses.map((_, i) => i));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(losses.slice(0, 5));
    const last = mean(losses.slice(-5));
    // Uniform over 7 tokens is ln 7 ≈ 1.95. Knowing only which characters may come (3
    // letters, then eos) gives (3·ln 3 + 0) / 4 ≈ 0.82; below that the model is reversing.
    expect(first).toBeGreaterThan(1.4);
    expect(last).toBeLessThan(0.5);
    expect(last).toBeLessThan(0.3 * first);
    policy.dispose();
  });

  it('is reproducible from the seed', async () => {
    const run = async () => {
      const policy = createTransformerPolicy({ tokenizer, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 10 });
      const { losses } = await trainSft({ policy, examples, steps: 3, examplesPerStep: 4, learningRate: 1e-2, seed: 9 });
      policy.dispose();
      return losses;
    };
    expect(await run()).toEqual(await run());
  });

  it('rejects bad options naming the field', async () => {
    const policy = createTransformerPolicy({ tokenizer, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 6 });
    const base = { policy, examples, steps: 1, examplesPerStep: 2, learningRate: 1e-3, seed: 0 };
    await expect(trainSft({ ...base, examplesPerStep: 0 })).rejects.toThrow(OptionsError);
    await expect(trainSft({ ...base, learningRate: -1 })).rejects.toThrow(/learningRate: must be > 0/);
    await expect(trainSft({ ...base, examples: [] })).rejects.toThrow(/examples: must be a non-empty/);
    // bos + 4 + 3 + eos = 9 tokens > maxSeqLen 6.
    await expect(trainSft(base)).rejects.toThrow(/examples\[0\] is 9 tokens long; the policy's maxSeqLen is 6/);
    await expect(trainSft({ ...base, examples: [{ prompt: 'x', completion: 'a' }] })).rejects.toThrow(/"x"/);
    const frozen = policy.clone({ trainable: false });
    await expect(trainSft({ ...base, policy: frozen })).rejects.toThrow(/no trainable variables/);
    expect(tf.memory().numTensors).toBeGreaterThan(0);
    frozen.dispose();
    policy.dispose();
  });
});
