import type * as tf from '@tensorflow/tfjs-core';

/** Maps text to token ids and back. The built-in one is a character/symbol vocabulary. */
export interface Tokenizer {
  readonly id: string;
  readonly vocabSize: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  /**
   * The id a prompt starts with, or null when the model declares none (e.g. Qwen). Absent
   * (the built-in tokenizers): prompts start with `bosId`.
   */
  readonly bosTokenId?: number | null;
  /** Every id that ends a sample (eosId plus e.g. `<|im_end|>`); absent: eosId alone. */
  readonly stopTokenIds?: readonly number[];
  encode(text: string): number[];
  /** The chat template (Jinja) of a pretrained model's tokenizer; absent or null: none. */
  readonly chatTemplate?: string | null;
  /**
   * Renders `messages` with the chat template and tokenizes the text as transformers'
   * `apply_chat_template(..., tokenize=True)` does (no special tokens added: the template writes them).
   */
  applyChatTemplate?(
    messages: ReadonlyArray<{ role: string; content: string }>,
    options?: { addGenerationPrompt?: boolean },
  ): { text: string; ids: number[] };
  /** Decodes ids, skipping special tokens. */
  decode(ids: ArrayLike<number>): string;
  /** JSON description, enough to rebuild the tokenizer from a checkpoint. */
  toJSON(): Record<string, unknown>;
}

export interface ForwardInput {
  /** `[batch, seqLen]` int32. */
  tokens: tf.Tensor2D;
  /** `[batch, seqLen]` float32, 1 on real tokens. */
  attentionMask: tf.Tensor2D;
}

/** Per-token log-probs of the given tokens and exact entropies, aligned with `tokens`. */
export interface TokenStats {
  /** `[batch, seqLen]`: log softmax(logits_{t-1} / T)[tokens_t]; 0 at t = 0. */
  logp: tf.Tensor2D;
  /** `[batch, seqLen]`: exact entropy of softmax(logits_{t-1} / T); 0 at t = 0. */
  entropy: tf.Tensor2D;
}

/** An incremental decoding session over a KV cache. */
export interface DecodeSession {
  /** Rows the session decodes now (the prompts' count until `retain`). */
  readonly batch: number;
  /** Feeds one token per row; returns next-token logits `[batch, vocab]` (owned by the caller). */
  step(tokens: Int32Array): tf.Tensor2D;
  /**
   * Optional: keeps only `rows` (ascending indices into the current rows) and drops the
   * others' KV cache, so later steps take and return `rows.length` rows. Rows that have
   * finished then cost nothing; a session without it keeps computing them.
   */
  retain?(rows: readonly number[]): void;
  dispose(): void;
}

/**
 * A trainable language-model policy. Tensors passed in are borrowed; tensors returned are
 * owned by the caller.
 */
export interface Policy {
  readonly id: string;
  readonly tokenizer: Tokenizer;
  readonly maxSeqLen: number;
  /** Logits `[batch, seqLen, vocab]` at T = 1. */
  forward(input: ForwardInput): tf.Tensor3D;
  /** Log-probs and entropies at `temperature` (default 1), computed from one forward. */
  tokenStats(input: ForwardInput, options?: { temperature?: number }): TokenStats;
  /**
   * Starts incremental decoding of left-padded prompts `[batch, promptLen]`; returns the
   * session and the next-token logits after the prompt.
   */
  startDecode(input: ForwardInput, maxNewTokens: number): { session: DecodeSession; logits: tf.Tensor2D };
  trainableVariables(): tf.Variable[];
  /** A deep copy; `trainable: false` gives a frozen copy (reference / old policy). */
  clone(options?: { trainable?: boolean }): Policy;
  /**
   * The frozen reference for KL terms when it is cheaper than `clone({ trainable: false })`
   * (a LoRA policy: its base with the adapters off, sharing the weights). Optional.
   */
  referencePolicy?(): Policy;
  /** Weight values by name (host copies), for checkpoints. */
  getWeights(): Record<string, { shape: number[]; values: Float32Array }>;
  setWeights(weights: Record<string, { shape: number[]; values: Float32Array }>): void;
  /** JSON-able model config (sizes), saved with checkpoints. */
  config(): Record<string, unknown>;
  dispose(): void;
}
