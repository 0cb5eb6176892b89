// One SFT/Adam step of a 2-layer d=128 transformer on 64 sequences × 48 tokens (the
// shape DESIGN.md's performance notes use). Run: `npx vitest bench --run src/train-step.bench.ts`
// (RFTKIT_TEST_BACKENDS picks backends, default cpu,wasm).
import { selectBackend } from '@rftkit/tensor';
import { testBackends } from '@rftkit/tensor/testing';
import { bench, describe } from 'vitest';
import { createTransformerPolicy } from './policy';
import { trainSft } from './sft';
import { createCharTokenizer } from './tokenizer';

const tokenizer = createCharTokenizer({ alphabet: 'abcdefghijklmnopqrstuvwxyz' });
const letters = tokenizer.toJSON().alphabet as string;
// bos + 23 prompt chars + 23 completion chars + eos = 48 tokens.
const examples = Array.from({ length: 64 }, (_, i) => {
  const s = Array.from({ length: 23 }, (_, j) => letters[(i * 7 + j * 3) % 26]).join('');
  return { prompt: s, completion: [...s].reverse().join('') };
});

for (const backend of testBackends()) {
  describe(backend, async () => {
    await selectBackend(backend);
    const policy = createTransformerPolicy({ tokenizer, dModel: 128, nLayers: 2, nHeads: 4, maxSeqLen: 64, seed: 0 });
    bench(
      `Adam step, d=128 × 2 layers, 64×48 tokens [${backend}]`,
      async () => {
        await trainSft({ policy, examples, steps: 1, examplesPerStep: 64, learningRate: 1e-3, seed: 0 });
      },
      { iterations: 3, warmupIterations: 1, time: 0 },
    );
  });
}
