import type { RolloutBatch, ScoredBatch, TrainBatch } from './spec/batch';
import { ShapeError } from './errors';

type AnyBatch = RolloutBatch & Partial<Pick<TrainBatch, 'scores' | 'rewardComponents' | 'advantages' | 'rowWeights'>>;

const TOKEN_FIELDS = ['tokens', 'attentionMask', 'responseMask', 'behaviourLogp', 'logpT1', 'advantages'] as const;

/** Rows `indices` of a batch (any of rollout/scored/train), in that order. */
export function selectRows<B extends AnyBatch>(batch: B, indices: ArrayLike<number>): B {
  const n = indices.length;
  const T = batch.seqLen;
  const out = { ...batch, rows: n } as unknown as Record<string, unknown>;
  for (const key of TOKEN_FIELDS) {
    const src = batch[key] as Float32Array | Int32Array | undefined;
    if (!src) continue;
    const dst = new (src.constructor as Float32ArrayConstructor)(n * T);
    for (let i = 0; i < n; i++) {
      const r = indices[i]!;
      if (r < 0 || r >= batch.rows) throw new ShapeError('selectRows', `row ${r} out of range [0, ${batch.rows})`);
      dst.set(src.subarray(r * T, (r + 1) * T), i * T);
    }
    out[key] = dst;
  }
  const pick = <T>(arr: ArrayLike<T>) => Array.from({ length: n }, (_, i) => arr[indices[i]!]!);
  out.groupIds = Int32Array.from(pick(batch.groupIds));
  out.promptIndex = Int32Array.from(pick(batch.promptIndex));
  out.seeds = Uint32Array.from(pick(batch.seeds));
  out.responses = pick(batch.responses);
  out.sampling = pick(batch.sampling);
  out.finishReason = pick(batch.finishReason);
  out.source = pick(batch.source);
  if (batch.scores) out.scores = Float32Array.from(pick(batch.scores));
  if (batch.rowWeights) out.rowWeights = Float32Array.from(pick(batch.rowWeights));
  if (batch.rewardComponents) {
    out.rewardComponents = Object.fromEntries(
      Object.entries(batch.rewardComponents).map(([k, v]) => [k, Float32Array.from(pick(v))]),
    );
  }
  return out as B;
}

/**
 * Concatenates batches row-wise. Shorter rows are right-padded to the longest `seqLen`
 * (tokens with `padId`, masks and per-token values with 0). Prompts are appended and
 * `promptIndex` offset accordingly; group ids are kept as they are.
 */
export function concatBatches<B extends AnyBatch>(batches: B[], padId = 0): B {
  if (batches.length === 0) throw new ShapeError('concatBatches', 'no batches given');
  const first = batches[0]!;
  const T = Math.max(...batches.map((b) => b.seqLen));
  const rows = batches.reduce((a, b) => a + b.rows, 0);
  const out = { ...first, rows, seqLen: T } as unknown as Record<string, unknown>;
  for (const key of TOKEN_FIELDS) {
    const present = batches.filter((b) => b[key] !== undefined).length;
    if (present === 0) continue;
    if (present !== batches.length) throw new ShapeError('concatBatches', `field '${key}' missing in some batches`);
    const ctor = (first[key] as Float32Array).constructor as Float32ArrayConstructor;
    const dst = new ctor(rows * T);
    if (key === 'tokens' && padId !== 0) dst.fill(padId);
    let row = 0;
    for (const b of batches) {
      const src = b[key] as Float32Array;
      for (let r = 0; r < b.rows; r++, row++) dst.set(src.subarray(r * b.seqLen, (r + 1) * b.seqLen), row * T);
    }
    out[key] = dst;
  }
  const flat = <K extends keyof AnyBatch>(k: K) => batches.flatMap((b) => Array.from(b[k] as ArrayLike<unknown>));
  out.groupIds = Int32Array.from(flat('groupIds') as number[]);
  out.seeds = Uint32Array.from(flat('seeds') as number[]);
  out.responses = flat('responses');
  out.sampling = flat('sampling');
  out.finishReason = flat('finishReason');
  out.source = flat('source');
  const promptIndex: number[] = [];
  const prompts = [];
  for (const b of batches) {
    const offset = prompts.length;
    for (const p of b.promptIndex) promptIndex.push(p + offset);
    prompts.push(...b.prompts);
  }
  out.promptIndex = Int32Array.from(promptIndex);
  out.prompts = prompts;
  const optionalRow = (k: 'scores' | 'rowWeights', fill: number) => {
    if (!batches.some((b) => b[k])) return;
    out[k] = Float32Array.from(batches.flatMap((b) => (b[k] ? Array.from(b[k]!) : new Array(b.rows).fill(fill))));
  };
  optionalRow('scores', 0);
  optionalRow('rowWeights', 1);
  if (batches.some((b) => b.rewardComponents)) {
    const names = new Set(batches.flatMap((b) => Object.keys(b.rewardComponents ?? {})));
    out.rewardComponents = Object.fromEntries(
      [...names].map((name) => [
        name,
        Float32Array.from(
          batches.flatMap((b) => Array.from(b.rewardComponents?.[name] ?? new Float32Array(b.rows).fill(Number.NaN))),
        ),
      ]),
    );
  }
  return out as B;
}

/** Response length (number of response-mask tokens) of each row. */
export function responseLengths(batch: Pick<RolloutBatch, 'rows' | 'seqLen' | 'responseMask'>): Int32Array {
  const out = new Int32Array(batch.rows);
  for (let r = 0; r < batch.rows; r++) {
    let n = 0;
    for (let t = 0; t < batch.seqLen; t++) n += batch.responseMask[r * batch.seqLen + t]! > 0 ? 1 : 0;
    out[r] = n;
  }
  return out;
}

export type { AnyBatch, ScoredBatch };
