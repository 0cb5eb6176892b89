import { stat } from 'node:fs/promises';
import { responseLengths, type ScoredBatch, writeFileAtomic } from '@rftkit/core';
import { appendJsonl, readJsonl } from './jsonl';

/**
 * One row of a run folder's `samples.jsonl`: a response the policy generated, with its
 * prompt and reward. Rows are written during the run, one JSON object per line, so a
 * reader (the report, a live dashboard) may read the file at any time and drop a torn
 * last line.
 */
export interface SampleRow {
  /** Steps completed when it was sampled: for `train`, the step whose rollout it is (1-based); for `eval`, the evaluation's step (0 = the starting policy). */
  step: number;
  split: 'train' | 'eval';
  promptId: string;
  prompt: string;
  /** The task's reference answer, when it has one. */
  reference?: string;
  completion: string;
  reward: number;
  /** Response tokens (stop token included). */
  length: number;
  finishReason: 'stop' | 'length';
  /** Sampling temperature of the row. */
  temperature: number;
}

/** Longest prompt or completion kept in a row (characters); longer ones end with `…`. */
export const SAMPLE_TEXT_LIMIT = 2000;

const clip = (s: string) => (s.length > SAMPLE_TEXT_LIMIT ? `${s.slice(0, SAMPLE_TEXT_LIMIT - 1)}…` : s);

/**
 * The first response of each of the first `count` prompts of a batch (prompts whose
 * index, plus `promptOffset`, is below `count`): distinct prompts, deterministic, and the
 * same rows however an evaluation is chunked.
 */
export function pickSamples(batch: ScoredBatch, step: number, split: SampleRow['split'], count: number, promptOffset = 0): SampleRow[] {
  const lengths = responseLengths(batch);
  const seen = new Set<number>();
  const rows: SampleRow[] = [];
  for (let r = 0; r < batch.rows; r++) {
    const p = batch.promptIndex[r]!;
    if (p + promptOffset >= count || seen.has(p)) continue;
    seen.add(p);
    const prompt = batch.prompts[p]!;
    rows.push({
      step,
      split,
      promptId: prompt.id,
      prompt: clip(prompt.prompt),
      ...(prompt.reference !== undefined ? { reference: clip(prompt.reference) } : {}),
      completion: clip(batch.responses[r] ?? ''),
      reward: batch.scores[r]!,
      length: lengths[r]!,
      finishReason: batch.finishReason[r]!,
      temperature: batch.sampling[r]!.temperature,
    });
  }
  return rows;
}

/** Appends rows to `samples.jsonl` until the file reaches `maxBytes`, then writes no more. */
export class SampleLog {
  private bytes = 0;
  private full = false;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly log: (message: string) => void,
  ) {}

  /** Keeps the rows a resumed run has not redone: train rows up to `trainStep`, eval rows up to `evalStep`. */
  async truncate(trainStep: number, evalStep: number): Promise<void> {
    const rows = (await readJsonl(this.path)).filter(
      (r) => typeof r.step === 'number' && r.step <= (r.split === 'eval' ? evalStep : trainStep),
    );
    const text = rows.map((r) => `${JSON.stringify(r)}\n`).join('');
    await writeFileAtomic(this.path, text);
    this.bytes = Buffer.byteLength(text);
    this.full = false;
  }

  async append(rows: readonly SampleRow[]): Promise<SampleRow[]> {
    if (this.full) return [];
    if (this.bytes === 0) this.bytes = await stat(this.path).then((s) => s.size, () => 0);
    const written: SampleRow[] = [];
    for (const row of rows) {
      const size = Buffer.byteLength(`${JSON.stringify(row)}\n`);
      if (this.bytes + size > this.maxBytes) {
        this.full = true;
        this.log(`samples.jsonl reached trainer.samples.maxBytes (${this.maxBytes} bytes); no more samples are written`);
        break;
      }
      await appendJsonl(this.path, row as unknown as Record<string, unknown>);
      this.bytes += size;
      written.push(row);
    }
    return written;
  }
}
