import type { FinishReason, PromptRecord, RewardInput, RolloutBatch } from '@rftkit/core';

/** A reward input for prompt `reference`. */
export function input(completion: string, reference?: string, finishReason: FinishReason = 'stop'): RewardInput {
  return { prompt: { id: 'p', prompt: 'q', ...(reference === undefined ? {} : { reference }) }, completion, finishReason };
}

/** A minimal rollout batch: row r answers prompts[promptIndex[r]] with responses[r] of lengths[r] tokens. */
export function makeBatch(
  prompts: PromptRecord[],
  rows: Array<{ prompt: number; response: string; tokens: number; finish?: FinishReason }>,
): RolloutBatch {
  const seqLen = Math.max(1, ...rows.map((r) => r.tokens + 1));
  const n = rows.length;
  const responseMask = new Float32Array(n * seqLen);
  rows.forEach((r, i) => {
    responseMask.fill(1, i * seqLen + 1, i * seqLen + 1 + r.tokens);
  });
  return {
    rows: n,
    seqLen,
    tokens: new Int32Array(n * seqLen),
    attentionMask: new Float32Array(n * seqLen).fill(1),
    responseMask,
    behaviourLogp: new Float32Array(n * seqLen),
    logpT1: new Float32Array(n * seqLen),
    groupIds: Int32Array.from(rows, (r) => r.prompt),
    promptIndex: Int32Array.from(rows, (r) => r.prompt),
    prompts,
    responses: rows.map((r) => r.response),
    sampling: rows.map(() => ({ temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: 32, stopTokens: [2] })),
    finishReason: rows.map((r) => r.finish ?? 'stop'),
    source: rows.map(() => 'main'),
    seeds: new Uint32Array(n),
  };
}
