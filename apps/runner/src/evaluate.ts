import type { Policy, PromptRecord, RewardFunction, SamplingParams } from '@rftkit/core';
import { scoreBatch } from '@rftkit/rewards';
import { createRolloutEngine, type PromptFormat } from '@rftkit/rollout';
import { passAtK } from '@rftkit/trainer';

export interface EvaluateOptions {
  policy: Policy;
  prompts: PromptRecord[];
  reward: RewardFunction;
  /** Samples per prompt (n). */
  samples: number;
  /** pass@k values to report; those above n are dropped. */
  k: number[];
  sampling: SamplingParams;
  seed: number;
  /** How prompts become token ids (the run's `rollout` section). */
  promptFormat?: PromptFormat;
  /** A sample is correct when its score ≥ threshold. Default 1. */
  threshold?: number;
  /** Prompts generated together (memory bound). Default 8. */
  promptsPerBatch?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EvaluateResult {
  /** `pass@k` → unbiased estimate averaged over prompts. */
  passAtK: Record<string, number>;
  /** Mean accuracy of all samples (avg@n). */
  avgAtN: number;
  n: number;
  prompts: number;
  /** Correct samples per prompt. */
  correct: number[];
}

/**
 * Unbiased pass@k (1 − C(n−c, k)/C(n, k)) and avg@n of a policy on prompts, from n
 * samples per prompt. Seeds derive from `seed`, so the same call gives the same numbers.
 */
export async function evaluatePolicy(options: EvaluateOptions): Promise<EvaluateResult> {
  const { policy, prompts, reward, samples: n, sampling, seed } = options;
  const threshold = options.threshold ?? 1;
  const chunk = options.promptsPerBatch ?? 8;
  const engine = createRolloutEngine({ policy, promptFormat: options.promptFormat });
  const correct: number[] = [];
  let scoreSum = 0;
  for (let start = 0; start < prompts.length; start += chunk) {
    const part = prompts.slice(start, start + chunk);
    const batch = await engine.generate({
      prompts: part,
      samplesPerPrompt: n,
      sampling,
      seed,
      step: start / chunk,
      stream: 'eval',
    });
    const scored = await scoreBatch(reward, batch);
    const counts = new Array<number>(part.length).fill(0);
    for (let r = 0; r < scored.rows; r++) {
      const s = scored.scores[r]!;
      if (s >= threshold) counts[scored.promptIndex[r]!]! += 1;
      scoreSum += s >= threshold ? 1 : 0;
    }
    correct.push(...counts);
    options.onProgress?.(Math.min(start + chunk, prompts.length), prompts.length);
  }
  const ks = [...new Set(options.k)].filter((k) => k >= 1 && k <= n).sort((a, b) => a - b);
  const result: Record<string, number> = {};
  for (const k of ks) {
    result[`pass@${k}`] = correct.reduce((acc, c) => acc + passAtK(n, c, k), 0) / Math.max(1, correct.length);
  }
  return { passAtK: result, avgAtN: scoreSum / Math.max(1, correct.length * n), n, prompts: prompts.length, correct };
}
