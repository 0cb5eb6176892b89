import { OptionsError, ShapeError, responseLengths } from '@rftkit/core';
import type { RewardFunction, RolloutBatch, ScoredBatch } from '@rftkit/core';
import type { RewardInputWithLength } from './length';
import { readRewardValue } from './value';

export interface ScoreBatchOptions {
  /** Longest a reward may take on a call (the whole batch, then each retried row). Default 10 000 ms. */
  timeoutMs?: number;
  /** Score given to a row whose reward threw, timed out or returned an invalid value. Default 0. */
  errorScore?: number;
  /**
   * Receives warnings: one per failed row up to `maxRowWarnings`, then one line counting
   * the rest (and one when the whole-batch call failed). Default: console.warn.
   */
  onWarning?: (message: string) => void;
  /** Failed rows warned about one by one per batch (default 3); the rest are counted in one line. */
  maxRowWarnings?: number;
  /** Receives the batch's failure counts once it is scored (the trainer logs and checks them). */
  onReport?: (report: ScoreReport) => void;
}

/** How many rows of one `scoreBatch` call failed. */
export interface ScoreReport {
  rows: number;
  /** Rows that got `errorScore`: the reward threw, timed out or returned an invalid value. */
  errors: number;
  /** Of `errors`, the rows that timed out. */
  timeouts: number;
  /** The first failed row's error: what the reward threw, or a message saying what was wrong. */
  firstError?: unknown;
}

type RowResult = { score: number; components: Record<string, number> } | { error: string; timeout?: boolean; cause?: unknown };

class RewardTimeout extends Error {}

function callWithTimeout<T>(fn: () => T | Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RewardTimeout(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  // `new Promise` also turns a synchronous throw into a rejection.
  const call = new Promise<T>((resolve) => resolve(fn()));
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Scores are stored as float32: 1e39 is finite in JS but Infinity there. */
const finite32 = (x: number) => Number.isFinite(Math.fround(x));

function readRow(value: unknown): RowResult {
  const v = readRewardValue(value);
  if (!v) return { error: `returned an invalid value (${JSON.stringify(value) ?? String(value)})` };
  if (!Number.isFinite(v.score)) return { error: `returned a non-finite score (${v.score})` };
  if (!finite32(v.score)) return { error: `returned a score (${v.score}) beyond the float32 range (it would be stored as Infinity)` };
  for (const [k, c] of Object.entries(v.components)) {
    if (!finite32(c)) return { error: `returned component '${k}' = ${c}, which is not a finite float32` };
  }
  return v;
}

/**
 * Scores every row of a rollout batch with `reward` (sync or async). The reward sees each
 * row's prompt record, decoded response, finish reason and response length in tokens.
 * A failure never stops the step: when the whole-batch call throws, times out or returns
 * the wrong number of values, each row is retried on its own; a row that still throws,
 * times out or gives a score (or component) that is not a finite float32 gets
 * `errorScore` and a warning naming the row (the first `maxRowWarnings` of a batch; the
 * rest in one line). `onReport` receives the failure counts. Components missing on a row
 * (e.g. a failed one) are NaN.
 *
 * A synchronous reward that never returns blocks the event loop; timeouts only bound
 * rewards that yield (async I/O, workers).
 */
export async function scoreBatch(
  reward: RewardFunction,
  batch: RolloutBatch,
  options: ScoreBatchOptions = {},
): Promise<ScoredBatch> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const errorScore = options.errorScore ?? 0;
  const warn = options.onWarning ?? ((m: string) => console.warn(`[rftkit] ${m}`));
  const maxRowWarnings = options.maxRowWarnings ?? 3;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new OptionsError('scoreBatch', [{ path: 'timeoutMs', message: `must be a positive finite number of ms, got ${timeoutMs}` }]);
  }
  if (!Number.isInteger(maxRowWarnings) || maxRowWarnings < 0) {
    throw new OptionsError('scoreBatch', [{ path: 'maxRowWarnings', message: `must be a non-negative integer, got ${maxRowWarnings}` }]);
  }
  if (!finite32(errorScore)) {
    throw new OptionsError('scoreBatch', [{ path: 'errorScore', message: `must be a finite (float32) number, got ${errorScore}` }]);
  }
  if (batch.responses.length !== batch.rows || batch.finishReason.length !== batch.rows) {
    throw new ShapeError('scoreBatch', `batch has ${batch.rows} rows but ${batch.responses.length} responses and ${batch.finishReason.length} finish reasons`);
  }

  const lengths = responseLengths(batch);
  const inputs: RewardInputWithLength[] = [];
  for (let r = 0; r < batch.rows; r++) {
    const prompt = batch.prompts[batch.promptIndex[r]!];
    if (!prompt) throw new ShapeError('scoreBatch', `row ${r} points at prompt ${batch.promptIndex[r]}, but the batch has ${batch.prompts.length} prompts`);
    inputs.push({ prompt, completion: batch.responses[r]!, finishReason: batch.finishReason[r]!, responseTokens: lengths[r]! });
  }

  const name = `reward '${reward.id}'`;
  let results: RowResult[];
  try {
    const values = await callWithTimeout(() => reward.score(inputs), timeoutMs);
    if (!Array.isArray(values) || values.length !== inputs.length) {
      throw new Error(`returned ${Array.isArray(values) ? values.length : 'no array of'} values for ${inputs.length} rows`);
    }
    results = values.map(readRow);
  } catch (e) {
    if (inputs.length > 1) warn(`${name} failed on the whole batch (${message(e)}); scoring row by row`);
    results = await Promise.all(
      inputs.map(async (input): Promise<RowResult> => {
        try {
          const values = await callWithTimeout(() => reward.score([input]), timeoutMs);
          if (!Array.isArray(values) || values.length !== 1) return { error: 'did not return exactly one value for one row' };
          return readRow(values[0]);
        } catch (rowError) {
          if (rowError instanceof RewardTimeout) return { error: rowError.message, timeout: true, cause: rowError };
          return { error: `threw: ${message(rowError)}`, cause: rowError };
        }
      }),
    );
  }

  const scores = new Float32Array(batch.rows);
  const names = new Set<string>();
  const report: ScoreReport = { rows: batch.rows, errors: 0, timeouts: 0 };
  results.forEach((res, r) => {
    if ('error' in res) {
      scores[r] = errorScore;
      report.errors++;
      if (res.timeout) report.timeouts++;
      if (report.errors === 1) report.firstError = res.cause ?? `${name} ${res.error}`;
      if (report.errors <= maxRowWarnings) {
        warn(`${name} failed on row ${r} (prompt '${inputs[r]!.prompt.id}'): ${res.error}; scored ${errorScore}`);
      }
    } else {
      scores[r] = res.score;
      for (const k of Object.keys(res.components)) names.add(k);
    }
  });
  if (report.errors > maxRowWarnings) {
    warn(`${name} failed on ${report.errors - maxRowWarnings} more rows of this batch (${report.errors} of ${batch.rows} in all); scored ${errorScore}`);
  }
  options.onReport?.(report);
  const rewardComponents: Record<string, Float32Array> = {};
  for (const k of names) {
    rewardComponents[k] = Float32Array.from(results, (res) => ('error' in res ? Number.NaN : (res.components[k] ?? Number.NaN)));
  }
  return { ...batch, scores, rewardComponents };
}
