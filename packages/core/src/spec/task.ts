import type { PromptRecord } from './batch';
import type { RewardFunction } from './reward';

export type Split = 'train' | 'test';

/** A verifiable task: a seeded generator of prompts with references, and its verifier. */
export interface Task {
  readonly id: string;
  readonly description: string;
  /** Deterministic for a given (split, count, seed); train and test never share a prompt. */
  generate(split: Split, count: number, seed: number): PromptRecord[];
  /** The exact verifier as a reward (1 correct, 0 otherwise unless documented). */
  reward(): RewardFunction;
  /** A valid solution, drawn uniformly among valid ones with `random` in [0,1) (for SFT). */
  solve?(prompt: PromptRecord, random: () => number): string | undefined;
  /** Characters every prompt/solution uses, so a tokenizer can be built for the task. */
  alphabet?(): string;
}
