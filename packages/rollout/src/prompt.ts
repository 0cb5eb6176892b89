import type { Tokenizer } from '@rftkit/core';

/**
 * The prompt convention shared with @rftkit/policy: `[bos, ...encode(text)]`, without bos when
 * the tokenizer declares none (`bosTokenId: null`, e.g. Qwen).
 */
export function encodePromptIds(tokenizer: Tokenizer, text: string): number[] {
  const bos = tokenizer.bosTokenId === undefined ? tokenizer.bosId : tokenizer.bosTokenId;
  return bos === null ? tokenizer.encode(text) : [bos, ...tokenizer.encode(text)];
}

/**
 * Left-pads encoded prompts to a common length so every row's next token is at the same
 * position: returns `[rows * length]` tokens and attention mask (1 on real tokens).
 */
export function leftPad(
  prompts: ReadonlyArray<ReadonlyArray<number>>,
  padId: number,
): { tokens: Int32Array; attentionMask: Float32Array; length: number } {
  const length = prompts.reduce((m, p) => Math.max(m, p.length), 0);
  const tokens = new Int32Array(prompts.length * length).fill(padId);
  const attentionMask = new Float32Array(prompts.length * length);
  prompts.forEach((ids, r) => {
    const start = r * length + length - ids.length;
    tokens.set(ids, start);
    attentionMask.fill(1, start, (r + 1) * length);
  });
  return { tokens, attentionMask, length };
}
