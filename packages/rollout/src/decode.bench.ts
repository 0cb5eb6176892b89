// Decode throughput of the rollout engine: 8 prompts × 8 samples × 32 new tokens with a
// 2-layer d=64 transformer. Run: `npx vitest bench --run src/decode.bench.ts`
// (RFTKIT_TEST_BACKENDS picks backends, default cpu,wasm).
import { selectBackend } from '@rftkit/tensor';
import { testBackends } from '@rftkit/tensor/testing';
import { createCharTokenizer, createTransformerPolicy } from '@rftkit/policy';
import { bench, describe } from 'vitest';
import { createRolloutEngine } from './engine';

const tokenizer = createCharTokenizer({ alphabet: '0123456789+-*=() ' });
const prompts = Array.from({ length: 8 }, (_, i) => ({ id: `p${i}`, prompt: `${i + 10}*${i + 3}-${i}=` }));

for (const backend of testBackends()) {
  describe(backend, async () => {
    await selectBackend(backend);
    const policy = createTransformerPolicy({ tokenizer, dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 64, seed: 0 });
    const engine = createRolloutEngine({ policy });
    let tokens = 0;
    let seconds = 0;
    let calls = 0;
    bench(
      `8×8 rows × 32 tokens [${backend}]`,
      async () => {
        const t0 = performance.now();
        // stopTokens cannot block eos; a fresh model rarely samples it, and we count what was decoded.
        const b = await engine.generate({
          prompts,
          samplesPerPrompt: 8,
          sampling: { temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: 32, stopTokens: [] },
          seed: calls++,
          step: 0,
        });
        seconds += (performance.now() - t0) / 1000;
        tokens += b.responseMask.reduce((a, m) => a + m, 0);
      },
      {
        iterations: 3,
        warmupIterations: 1,
        time: 0,
        setup: () => {
          tokens = 0;
          seconds = 0;
        },
        teardown: () => {
          if (seconds > 0) console.log(`[${backend}] ${(tokens / seconds).toFixed(0)} decoded tokens/s`);
        },
      },
    );
  });
}
