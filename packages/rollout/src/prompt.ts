import { type ChatMessage, type PromptRecord, RftError, type Tokenizer } from '@rftkit/core';
import { z } from 'zod';

/**
 * The prompt convention shared with @rftkit/policy: `[bos, ...encode(text)]`, without bos when
 * the tokenizer declares none (`bosTokenId: null`, e.g. Qwen).
 */
export function encodePromptIds(tokenizer: Tokenizer, text: string): number[] {
  const bos = tokenizer.bosTokenId === undefined ? tokenizer.bosId : tokenizer.bosTokenId;
  return bos === null ? tokenizer.encode(text) : [bos, ...tokenizer.encode(text)];
}

export const promptFormatSchema = z.strictObject({
  chatTemplate: z
    .boolean()
    .default(true)
    .describe("Render prompts with the policy's chat template when it has one (false: plain text, as for base models)."),
  systemPrompt: z
    .string()
    .min(1)
    .optional()
    .describe('System message put before each prompt rendered with the chat template (not before conversations that start with one).'),
});

/** How prompt records become token ids. */
export type PromptFormat = z.input<typeof promptFormatSchema>;

/** Whether prompts go through the tokenizer's chat template under `format`. */
export function usesChatTemplate(tokenizer: Tokenizer, format: PromptFormat = {}): boolean {
  return format.chatTemplate !== false && typeof tokenizer.chatTemplate === 'string' && typeof tokenizer.applyChatTemplate === 'function';
}

/** The conversation a record stands for: its `messages`, or its prompt as one user turn; plus the system prompt. */
export function promptMessages(record: PromptRecord, format: PromptFormat = {}): ChatMessage[] {
  const messages: ChatMessage[] = record.messages ? [...record.messages] : [{ role: 'user', content: record.prompt }];
  if (format.systemPrompt !== undefined && messages[0]?.role !== 'system') messages.unshift({ role: 'system', content: format.systemPrompt });
  return messages;
}

/**
 * A prompt record's token ids. With a chat template (and `format.chatTemplate` not false) the
 * record's conversation is rendered with the generation prompt appended and tokenized as
 * transformers' `apply_chat_template(messages, add_generation_prompt=True)` does (the template
 * writes any bos itself); otherwise `[bos, ...encode(prompt)]`. A record with `messages` needs
 * a template.
 */
export function encodePrompt(tokenizer: Tokenizer, record: PromptRecord, format: PromptFormat = {}): number[] {
  if (usesChatTemplate(tokenizer, format)) {
    return tokenizer.applyChatTemplate!(promptMessages(record, format), { addGenerationPrompt: true }).ids;
  }
  if (record.messages) {
    const why = format.chatTemplate === false ? 'chatTemplate is false' : `tokenizer '${tokenizer.id}' has no chat template`;
    throw new RftError('E_DATASET', `prompt '${record.id}' is a conversation (messages), which needs a chat template, but ${why}`);
  }
  return encodePromptIds(tokenizer, record.prompt);
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
