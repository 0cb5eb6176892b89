// Shared fixtures of the engine and sampler tests.
import { Rng, type PromptRecord, type SamplingParams } from '@rftkit/core';
import { charTokenizer, createTableBigramPolicy, type TableBigramPolicy } from '@rftkit/test-kit';
import { logSoftmaxAt, sampleToken } from '../sampling';

export const tokenizer = charTokenizer('ab');
export const V = tokenizer.vocabSize; // pad 0, bos 1, eos 2, a 3, b 4

/** A bigram table with every transition possible (eos ≈ 15% after a or b). */
export function softTable(): Float32Array {
  // rows: previous token pad, bos, eos, a, b
  return Float32Array.from([
    [0, 0, 0, 0, 0],
    [-3, -3, -2, 0.5, 0.2],
    [-3, -3, 0, 0, 0],
    [-3, -3, -0.5, 0.4, 0.9],
    [-3, -3, -0.6, 1.1, 0.1],
  ].flat());
}

/** Deterministic transitions: bos → a → b → eos. */
export function forcedTable(): Float32Array {
  const t = new Float32Array(V * V).fill(-30);
  t[1 * V + 3] = 30;
  t[3 * V + 4] = 30;
  t[4 * V + 2] = 30;
  t[0 * V + 2] = 30;
  t[2 * V + 2] = 30;
  return t;
}

export function bigram(table = softTable(), maxSeqLen = 64): TableBigramPolicy {
  return createTableBigramPolicy({ tokenizer, table, maxSeqLen });
}

export const prompts = (...texts: string[]): PromptRecord[] => texts.map((prompt, i) => ({ id: `p${i}`, prompt }));

export const sampling = (over: Partial<SamplingParams> = {}): SamplingParams => ({
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  maxNewTokens: 8,
  stopTokens: [],
  ...over,
});

/**
 * One row decoded on its own, token by token, straight from the table: what the batched
 * engine must reproduce for a row with this prompt, seed and sampling.
 */
export function simulateRow(table: Float32Array, prompt: string, seed: number, params: SamplingParams, room = 1e9) {
  const rng = new Rng(seed);
  let prev = tokenizer.encode(prompt).at(-1) ?? tokenizer.bosId;
  const tokens: number[] = [];
  const logp: number[] = [];
  const logpT1: number[] = [];
  const stops = new Set([tokenizer.eosId, ...params.stopTokens]);
  const limit = Math.min(params.maxNewTokens, room);
  let finish: 'stop' | 'length' = 'length';
  while (tokens.length < limit) {
    const row = table.subarray(prev * V, (prev + 1) * V);
    const s = sampleToken(row, params, rng);
    tokens.push(s.token);
    logp.push(s.logp);
    logpT1.push(logSoftmaxAt(row, s.token));
    prev = s.token;
    if (stops.has(s.token)) {
      finish = 'stop';
      break;
    }
  }
  return { tokens, logp, logpT1, finish };
}
