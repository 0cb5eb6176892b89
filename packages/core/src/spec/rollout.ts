import type { PromptRecord, RolloutBatch, SamplingParams } from './batch';
import type { Policy } from './policy';

export interface RolloutRequest {
  prompts: PromptRecord[];
  samplesPerPrompt: number;
  sampling: SamplingParams;
  /** The run seed. Row seeds derive from (seed, stream, step, prompt index, sample index). */
  seed: number;
  step: number;
  /** Seed stream label; extra rollouts use their own stream (e.g. `aepo`) so they never
   * reuse the main rollout's randomness. Default `main`. */
  stream?: string;
  /** Stored in `RolloutBatch.source` for every row. Default: the stream. */
  source?: string;
  /** Added to group ids (so groups stay unique when batches are concatenated). */
  groupIdOffset?: number;
  /** Added to each prompt's index when deriving row seeds, so a request split into chunks
   * samples exactly what the whole request would. `promptIndex` and group ids stay
   * per-request. Default 0. */
  promptIndexOffset?: number;
}

/** Generates `samplesPerPrompt` responses for each prompt. */
export interface RolloutEngine {
  readonly id: string;
  readonly policy: Policy;
  generate(request: RolloutRequest): Promise<RolloutBatch>;
}

export interface SamplerContext {
  /** The engine over the current policy. */
  engine: RolloutEngine;
  /** An engine over a frozen reference policy, when the run has one. */
  referenceEngine?: RolloutEngine;
}

/**
 * A distribution that can be sampled: the target of REINFORCE-style regularizers
 * (tempered policy, truncated policy, reference policy, ...). It receives the request the
 * trainer would make and returns rows whose `sampling` records what produced them.
 */
export interface Sampler {
  readonly id: string;
  /** Short human description, e.g. `policy at T=1.2`. */
  describe(): string;
  sample(request: RolloutRequest, context: SamplerContext): Promise<RolloutBatch>;
}
