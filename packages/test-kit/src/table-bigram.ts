// A policy whose next-token logits depend only on the last token (a fixed bigram table,
// not trainable) that records what it was asked, so every rollout quantity can be
// computed by hand in tests.
import type { DecodeSession, ForwardInput, Policy, TokenStats, Tokenizer } from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';

export interface TableBigramPolicy extends Policy {
  /** `[vocab * vocab]`: row = previous token, column = next token. */
  readonly table: Float32Array;
  /** What each `startDecode` received (host copies) and every token fed to `step`. */
  readonly calls: { prompts: Int32Array[]; masks: Float32Array[]; maxNewTokens: number[]; fed: Int32Array[] };
}

export function createTableBigramPolicy(options: { tokenizer: Tokenizer; table: Float32Array; maxSeqLen?: number }): TableBigramPolicy {
  const { tokenizer, table } = options;
  const V = tokenizer.vocabSize;
  if (table.length !== V * V) throw new Error('table must be [vocab * vocab]');
  const calls: TableBigramPolicy['calls'] = { prompts: [], masks: [], maxNewTokens: [], fed: [] };
  const nextLogits = (prev: Int32Array): tf.Tensor2D => {
    const out = new Float32Array(prev.length * V);
    prev.forEach((p, r) => {
      out.set(table.subarray(p * V, (p + 1) * V), r * V);
    });
    return tf.tensor2d(out, [prev.length, V]);
  };
  const policy: TableBigramPolicy = {
    id: 'bigram',
    tokenizer,
    maxSeqLen: options.maxSeqLen ?? 64,
    table,
    calls,
    forward({ tokens }: ForwardInput): tf.Tensor3D {
      return tf.tidy(() => tf.gather(tf.tensor2d(table, [V, V]), tokens) as unknown as tf.Tensor3D);
    },
    tokenStats(input: ForwardInput, opts: { temperature?: number } = {}): TokenStats {
      const T = opts.temperature ?? 1;
      return tf.tidy(() => {
        const logits = policy.forward(input);
        const [B, L] = input.tokens.shape;
        const logProbs = tf.logSoftmax(tf.div(logits, T));
        const prevLogp = tf.slice(logProbs, [0, 0, 0], [B, L - 1, V]);
        const next = tf.slice(input.tokens, [0, 1], [B, L - 1]);
        const picked = tf.sum(tf.mul(prevLogp, tf.oneHot(next, V)), -1);
        const ent = tf.neg(tf.sum(tf.mul(tf.exp(prevLogp), prevLogp), -1));
        const zeros = tf.zeros([B, 1]);
        return {
          logp: tf.concat([zeros, picked], 1) as tf.Tensor2D,
          entropy: tf.concat([zeros, ent], 1) as tf.Tensor2D,
        };
      });
    },
    startDecode(input: ForwardInput, maxNewTokens: number) {
      const tokens = input.tokens.dataSync() as Int32Array;
      const [B, L] = input.tokens.shape;
      calls.prompts.push(Int32Array.from(tokens));
      calls.masks.push(Float32Array.from(input.attentionMask.dataSync()));
      calls.maxNewTokens.push(maxNewTokens);
      const last = Int32Array.from({ length: B }, (_, r) => tokens[r * L + L - 1]!);
      const session: DecodeSession = {
        batch: B,
        step(next: Int32Array) {
          calls.fed.push(Int32Array.from(next));
          return nextLogits(next);
        },
        dispose() {},
      };
      return { session, logits: nextLogits(last) };
    },
    trainableVariables: () => [],
    clone: () => policy,
    getWeights: () => ({ table: { shape: [V, V], values: Float32Array.from(table) } }),
    setWeights: () => {},
    config: () => ({ kind: 'bigram', vocab: V }),
    dispose() {},
  };
  return policy;
}
