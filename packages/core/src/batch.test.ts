import { describe, expect, it } from 'vitest';
import { concatBatches, responseLengths, selectRows } from './batch';
import type { RolloutBatch, SamplingParams } from './spec/batch';

const sampling: SamplingParams = { temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: 4, stopTokens: [2] };

function batch(rows: number, seqLen: number, tag: number): RolloutBatch & { scores: Float32Array } {
  const n = rows * seqLen;
  return {
    rows,
    seqLen,
    tokens: Int32Array.from({ length: n }, (_, i) => tag * 100 + i),
    attentionMask: new Float32Array(n).fill(1),
    responseMask: Float32Array.from({ length: n }, (_, i) => (i % seqLen >= seqLen - 2 ? 1 : 0)),
    behaviourLogp: Float32Array.from({ length: n }, (_, i) => -i),
    logpT1: new Float32Array(n),
    groupIds: Int32Array.from({ length: rows }, (_, r) => tag * 10 + r),
    promptIndex: new Int32Array(rows),
    prompts: [{ id: `p${tag}`, prompt: `prompt ${tag}` }],
    responses: Array.from({ length: rows }, (_, r) => `r${tag}.${r}`),
    sampling: Array.from({ length: rows }, () => sampling),
    finishReason: Array.from({ length: rows }, () => 'stop' as const),
    source: Array.from({ length: rows }, () => `s${tag}`),
    seeds: Uint32Array.from({ length: rows }, (_, r) => r),
    scores: Float32Array.from({ length: rows }, (_, r) => r + tag),
  };
}

describe('batch utilities', () => {
  it('selects rows with every per-row and per-token field', () => {
    const b = batch(3, 4, 1);
    const s = selectRows(b, [2, 0]);
    expect(s.rows).toBe(2);
    expect(Array.from(s.tokens)).toEqual([108, 109, 110, 111, 100, 101, 102, 103]);
    expect(Array.from(s.scores)).toEqual([3, 1]);
    expect(s.responses).toEqual(['r1.2', 'r1.0']);
    expect(Array.from(s.groupIds)).toEqual([12, 10]);
    expect(() => selectRows(b, [3])).toThrow(/out of range/);
  });

  it('concatenates batches of different lengths, padding on the right and offsetting prompts', () => {
    const c = concatBatches([batch(1, 3, 1), batch(2, 4, 2)], 9);
    expect(c.rows).toBe(3);
    expect(c.seqLen).toBe(4);
    expect(Array.from(c.tokens.subarray(0, 4))).toEqual([100, 101, 102, 9]);
    expect(Array.from(c.responseMask.subarray(0, 4))).toEqual([0, 1, 1, 0]);
    expect(Array.from(c.promptIndex)).toEqual([0, 1, 1]);
    expect(c.prompts.map((p) => p.id)).toEqual(['p1', 'p2']);
    expect(Array.from(c.scores)).toEqual([1, 2, 3]);
    expect(Array.from(responseLengths(c))).toEqual([2, 2, 2]);
  });
});
