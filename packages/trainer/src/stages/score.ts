import { ConfigError, type Metrics, type RewardFunction, type RolloutBatch, type ScoredBatch } from '@rftkit/core';
import { RewardError, type ScoreReport, scoreBatch } from '@rftkit/rewards';
import { checkFinite, componentName } from './component-checks';
import type { TrainerParts } from './parts';

export interface ScoringOptions {
  /** Longest a reward call may take (ms); see `scoreBatch`. */
  timeoutMs?: number;
  /** Score of a row whose reward failed (default 0). */
  errorScore?: number;
  /**
   * Stop the run when the reward fails on every row of this many consecutive steps
   * (default 3; 0 = never): a reward that is broken throughout (a missing dependency, a
   * dead verifier service) would otherwise train on `errorScore` alone.
   */
  maxFailedSteps?: number;
}

/** The run's reward with failure accounting across steps. */
export interface Scorer {
  /** Scores a rollout batch (the main one, a regularizer's, or an evaluation chunk). */
  score(batch: RolloutBatch): Promise<ScoredBatch>;
  /**
   * Closes the window of batches scored since the last call and returns its failure counts
   * as metrics (`<prefix>errors`, `<prefix>timeouts`, present only when a row failed, so
   * a healthy run's rows are unchanged). Throws `RewardError` with the reward's first error
   * as cause when every row failed in `maxFailedSteps` consecutive windows.
   */
  endWindow(): Metrics;
}

/** Score stage: the run's reward (timeout, error score, rate-limited warnings) with failure accounting. */
export function createScorer(
  reward: RewardFunction,
  options: ScoringOptions | undefined,
  log: (message: string) => void,
  prefix = 'reward/',
): Scorer {
  const { maxFailedSteps = 3, ...scoring } = options ?? {};
  if (!Number.isInteger(maxFailedSteps) || maxFailedSteps < 0) {
    throw new ConfigError('trainer options', [
      { path: 'scoring.maxFailedSteps', message: `must be a non-negative integer (0 = never stop), got ${maxFailedSteps}` },
    ]);
  }
  let window = { rows: 0, errors: 0, timeouts: 0, firstError: undefined as unknown };
  let failedWindows = 0;
  let streakError: unknown;
  const onReport = (r: ScoreReport) => {
    if (r.errors > 0 && window.errors === 0) window.firstError = r.firstError;
    window = { ...window, rows: window.rows + r.rows, errors: window.errors + r.errors, timeouts: window.timeouts + r.timeouts };
  };
  return {
    score: (batch) => scoreBatch(reward, batch, { ...scoring, onWarning: log, onReport }),
    endWindow() {
      const w = window;
      window = { rows: 0, errors: 0, timeouts: 0, firstError: undefined };
      const allFailed = w.rows > 0 && w.errors === w.rows;
      if (allFailed && failedWindows === 0) streakError = w.firstError;
      failedWindows = allFailed ? failedWindows + 1 : 0;
      if (maxFailedSteps > 0 && failedWindows >= maxFailedSteps) {
        const first = streakError instanceof Error ? streakError.message : String(streakError);
        throw new RewardError(reward.id, `failed on every row for ${failedWindows} consecutive steps; first error: ${first}`, {
          cause: streakError,
        });
      }
      return w.errors > 0 ? { [`${prefix}errors`]: w.errors, [`${prefix}timeouts`]: w.timeouts } : {};
    },
  };
}

/** Score stage of a step: the main batch's scores, checked finite (the reward is named otherwise). */
export async function scoreStage(parts: Pick<TrainerParts, 'reward' | 'scorer'>, batch: RolloutBatch, step: number): Promise<ScoredBatch> {
  const scored = await parts.scorer.score(batch);
  checkFinite(componentName('reward', parts.reward.id), step, 'scores', scored.scores);
  return scored;
}
