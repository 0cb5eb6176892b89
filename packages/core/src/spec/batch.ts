/**
 * The data that flows between components during one step. Batches live on the host as
 * flat typed arrays (row-major `[rows, seqLen]`); tensors are made where math needs them.
 *
 * Layout of a row: `[left pad | prompt | response | right pad]`. Per-token arrays are
 * aligned with `tokens`: `x[r * seqLen + t]` describes token `t` of row `r`, and a
 * log-prob at `t` is `log π(tokens[t] | tokens[<t])`.
 */

/** The distribution a row was sampled from. Recorded per row so ratios use the right log-probs. */
export interface SamplingParams {
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off. */
  minP: number;
  maxNewTokens: number;
  /** Token ids that end a response (included in the response, mask 1). */
  stopTokens: number[];
}

export type FinishReason = 'stop' | 'length';

/** One turn of a conversation, as chat templates take it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One prompt of a task or dataset. */
export interface PromptRecord {
  id: string;
  /** The prompt text (for a conversation: its last user message). */
  prompt: string;
  /**
   * A conversation ending in a user turn, rendered with the policy's chat template instead of
   * `prompt` (policies without a template refuse it).
   */
  messages?: ChatMessage[];
  /** The reference answer the reward compares against. */
  reference?: string;
  metadata?: Record<string, unknown>;
}

export interface RolloutBatch {
  rows: number;
  seqLen: number;
  /** Token ids, `[rows * seqLen]`, padding = the tokenizer's pad id. */
  tokens: Int32Array;
  /** 1 on real (prompt or response) tokens, 0 on padding. */
  attentionMask: Float32Array;
  /** 1 on response tokens that are trained on. */
  responseMask: Float32Array;
  /** Log-prob of each response token under the distribution it was actually drawn from
   * (temperature and truncation applied); 0 outside the response. */
  behaviourLogp: Float32Array;
  /** Log-prob of each response token under the sampling policy at T=1, untruncated. */
  logpT1: Float32Array;
  /** Which prompt group each row belongs to (rows of one prompt share a group). */
  groupIds: Int32Array;
  /** Index of the row's prompt in `prompts`. */
  promptIndex: Int32Array;
  prompts: PromptRecord[];
  /** Decoded response text per row (without padding and special tokens). */
  responses: string[];
  sampling: SamplingParams[];
  finishReason: FinishReason[];
  /** Where each row came from, e.g. `main` or `aepo:T=1.2`. */
  source: string[];
  /** Per-row seed used to sample it (reproducibility). */
  seeds: Uint32Array;
}

/** A rollout batch with rewards. */
export interface ScoredBatch extends RolloutBatch {
  /** Scalar reward per row. */
  scores: Float32Array;
  /** Named reward components per row (e.g. `format`, `correct`). */
  rewardComponents: Record<string, Float32Array>;
}

/** A scored batch with per-token advantages: what the update trains on. */
export interface TrainBatch extends ScoredBatch {
  /** `[rows * seqLen]`, 0 outside the response mask. */
  advantages: Float32Array;
  /** Optional per-row weight on the policy loss (1 when absent). */
  rowWeights?: Float32Array;
}

/** Scalar metrics of a step: `{ 'reward/mean': 0.4, ... }`. */
export type Metrics = Record<string, number>;
