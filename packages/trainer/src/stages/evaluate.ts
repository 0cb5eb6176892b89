import { ConfigError, type Metrics, responseLengths, type ScoredBatch } from '@rftkit/core';
import { passAtK } from '../pass-at-k';
import { mean } from './metrics';
import { now, type TrainerParts } from './parts';

/** How many samples per test prompt an evaluation draws, and which pass@k it reports. */
export interface EvalSize {
  samplesPerPrompt: number;
  k: readonly number[];
}

/**
 * Evaluation stage: samples `eval.samplesPerPrompt` responses per test prompt with the
 * policy after `step` steps and scores them: `eval/avg@N`, `eval/pass@K` for each K ≤ N,
 * `eval/reward_mean`, `eval/response_len_mean`, `time/eval_s`, and `eval/reward_errors`,
 * `eval/reward_timeouts` when the reward failed on some rows. `onScored` sees each scored
 * chunk with the index of its first prompt; `size` overrides `eval.samplesPerPrompt` and
 * `eval.k` (the trainer passes `eval.atEnds` at step 0 and at the last step).
 */
export async function evaluateStage(
  parts: Pick<TrainerParts, 'config' | 'engine' | 'testPrompts' | 'evalScorer'>,
  step: number,
  onScored?: (batch: ScoredBatch, promptOffset: number) => void,
  size: EvalSize = parts.config.eval,
): Promise<Metrics> {
  const t0 = now();
  const { config } = parts;
  const e = config.eval;
  const prompts = e.prompts > 0 ? parts.testPrompts.slice(0, e.prompts) : parts.testPrompts;
  if (!prompts.length) throw new ConfigError('trainer options', [{ path: 'testPrompts', message: 'evaluation needs at least one test prompt' }]);
  const n = size.samplesPerPrompt;
  // A larger evaluation (eval.atEnds) takes fewer prompts per rollout, so that a rollout
  // holds no more rows than a regular one.
  const chunk = Math.max(1, Math.floor((e.chunkPrompts * e.samplesPerPrompt) / n));
  const correct = new Array<number>(prompts.length).fill(0);
  const scores: number[] = [];
  const lengths: number[] = [];
  // Chunks bound the rollout's memory; promptIndexOffset keeps every row's seed (and so
  // every sampled token) what one rollout over all prompts would draw.
  for (let start = 0; start < prompts.length; start += chunk) {
    const batch = await parts.engine.generate({
      prompts: prompts.slice(start, start + chunk),
      samplesPerPrompt: n,
      sampling: e.sampling,
      seed: config.seed,
      step,
      stream: 'eval',
      promptIndexOffset: start,
    });
    const scored = await parts.evalScorer.score(batch);
    onScored?.(scored, start);
    for (let r = 0; r < scored.rows; r++) {
      if (scored.scores[r]! >= e.threshold) correct[start + scored.promptIndex[r]!]!++;
      scores.push(scored.scores[r]!);
    }
    for (const len of responseLengths(scored)) lengths.push(len);
  }
  const metrics: Metrics = { [`eval/avg@${n}`]: mean(correct.map((c) => c / n)) };
  for (const k of [...new Set(size.k)].sort((a, b) => a - b)) {
    if (k <= n) metrics[`eval/pass@${k}`] = mean(correct.map((c) => passAtK(n, c, k)));
  }
  metrics['eval/reward_mean'] = mean(scores);
  metrics['eval/response_len_mean'] = mean(lengths);
  Object.assign(metrics, parts.evalScorer.endWindow());
  metrics['time/eval_s'] = now() - t0;
  return metrics;
}
