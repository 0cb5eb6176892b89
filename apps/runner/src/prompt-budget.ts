import { ConfigError, type Policy, type PromptRecord } from '@rftkit/core';
import { encodePrompt, type PromptFormat } from '@rftkit/rollout';
import { checkPromptLengths } from '@rftkit/tasks';

/**
 * Checks, before the first step, that every prompt leaves room in the policy's context for
 * its response (maxSeqLen − maxNewTokens), counted with the run's prompt format, so a too-long dataset row fails at start, named,
 * rather than at the step that happens to draw it.
 */
export function checkPromptBudget(
  policy: Policy,
  prompts: readonly PromptRecord[],
  maxNewTokens: number,
  field: string,
  source: string,
  format: PromptFormat = {},
): void {
  if (prompts.length === 0) return;
  const budget = policy.maxSeqLen - maxNewTokens;
  if (budget < 1) {
    throw new ConfigError('of the run', [
      { path: field, message: `is ${maxNewTokens}, which leaves no room for a prompt in the policy's context of ${policy.maxSeqLen} tokens` },
    ]);
  }
  // Counted as the rollout engine encodes them: bos or the chat template included.
  checkPromptLengths(prompts, (_, record) => encodePrompt(policy.tokenizer, record, format).length, budget, source);
}
