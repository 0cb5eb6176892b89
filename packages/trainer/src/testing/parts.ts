import type { PromptRecord } from '@rftkit/core';
import { parseTrainerConfig } from '../trainer';
import type { TrainerConfigInput } from '../config';
import { AdamOptimizer } from '../optimizer';
import type { TrainerParts } from '../stages/parts';
import { createScorer } from '../stages/score';
import { BigramEngine, BigramPolicy, charTokenizer, charReward, groupAdvantage, ppoClipLoss, tokenMean } from '@rftkit/test-kit';

export const testTokenizer = charTokenizer('ab');
export const testPrompts: PromptRecord[] = Array.from({ length: 6 }, (_, i) => ({ id: `p${i}`, prompt: i % 2 ? 'ab' : 'ba' }));

/** The parts of a small bigram run, for testing stages alone; `log` collects messages. */
export function testParts(config: TrainerConfigInput = {}, overrides: Partial<TrainerParts> = {}): TrainerParts & { logs: string[] } {
  const parsed = parseTrainerConfig({
    seed: 3,
    promptsPerStep: 3,
    samplesPerPrompt: 4,
    miniBatchSamples: 12,
    microBatchSamples: 4,
    sampling: { maxNewTokens: 6 },
    eval: { samplesPerPrompt: 4, k: [1, 2, 4], threshold: 0.5, sampling: { maxNewTokens: 6 } },
    ...config,
  });
  const policy = new BigramPolicy(testTokenizer, 1);
  const logs: string[] = [];
  const log = (m: string) => {
    logs.push(m);
  };
  const reward = overrides.reward ?? charReward('a');
  return {
    config: parsed,
    policy,
    engine: new BigramEngine(policy),
    reward,
    advantage: groupAdvantage,
    loss: ppoClipLoss,
    aggregator: tokenMean,
    regularizers: [],
    optimizer: new AdamOptimizer(policy.trainableVariables(), parsed.optimizer),
    trainPrompts: testPrompts,
    testPrompts: testPrompts.slice(0, 2),
    scorer: createScorer(reward, undefined, log),
    evalScorer: createScorer(reward, { maxFailedSteps: 0 }, log, 'eval/reward_'),
    log,
    logs,
    ...overrides,
  };
}
