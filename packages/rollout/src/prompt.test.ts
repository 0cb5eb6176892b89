// How prompt records become ids: the plain convention, or a chat template when the tokenizer
// has one. (Ids against transformers' apply_chat_template with a real tokenizer are checked in
// @rftkit/trainer's chat-prompt.test.ts.)
import { OptionsError, type PromptRecord, RftError, type Tokenizer } from '@rftkit/core';
import { charTokenizer } from '@rftkit/test-kit';
import { describeBackends } from '@rftkit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { createRolloutEngine } from './engine';
import { encodePrompt, encodePromptIds, promptMessages, usesChatTemplate } from './prompt';
import { bigram, sampling } from './test-utils/fixtures';

const plain = charTokenizer('ab');
/** A turn as the test template writes it (its alphabet is the tokenizer's: a, b). */
const HEADER = { system: 'bb', user: 'ba', assistant: 'ab' } as const;
const turn = (role: keyof typeof HEADER, content = '') => `${HEADER[role]}${content}`;
/** A tokenizer with a template: each turn is a role header then the content; `ab` opens the reply. */
function withTemplate(base: Tokenizer = plain): Tokenizer & { rendered: Array<{ messages: unknown; addGenerationPrompt?: boolean }> } {
  const rendered: Array<{ messages: unknown; addGenerationPrompt?: boolean }> = [];
  return {
    ...base,
    encode: base.encode.bind(base),
    decode: base.decode.bind(base),
    toJSON: base.toJSON.bind(base),
    chatTemplate: '{% for m in messages %}...{% endfor %}',
    applyChatTemplate(messages, options) {
      rendered.push({ messages, addGenerationPrompt: options?.addGenerationPrompt });
      const text = messages.map((m) => turn(m.role as keyof typeof HEADER, m.content)).join('') + (options?.addGenerationPrompt ? turn('assistant') : '');
      return { text, ids: base.encode(text) };
    },
    rendered,
  };
}

const record = (prompt: string, extra: Partial<PromptRecord> = {}): PromptRecord => ({ id: 'r', prompt, ...extra });

describe('encodePrompt', () => {
  it('without a chat template: [bos, ...encode(prompt)], as before', () => {
    expect(usesChatTemplate(plain)).toBe(false);
    for (const text of ['', 'ab', 'bba']) {
      expect(encodePrompt(plain, record(text))).toEqual(encodePromptIds(plain, text));
      expect(encodePrompt(plain, record(text), { systemPrompt: 'a' })).toEqual([plain.bosId, ...plain.encode(text)]);
    }
    // A template of null (an HF tokenizer whose files define none) is no template.
    expect(usesChatTemplate({ ...withTemplate(), chatTemplate: null })).toBe(false);
  });

  it('with a template: one user turn, the generation prompt, no bos added', () => {
    const tok = withTemplate();
    expect(encodePrompt(tok, record('ab'))).toEqual(plain.encode(turn('user', 'ab') + turn('assistant')));
    expect(tok.rendered).toEqual([{ messages: [{ role: 'user', content: 'ab' }], addGenerationPrompt: true }]);
    expect(encodePrompt(tok, record('ab'), { systemPrompt: 'bab' })).toEqual(plain.encode(turn('system', 'bab') + turn('user', 'ab') + turn('assistant')));
  });

  it('conversations: rendered as given; the system prompt only where they have no system turn', () => {
    const tok = withTemplate();
    const messages = [
      { role: 'user' as const, content: 'a' },
      { role: 'assistant' as const, content: 'b' },
      { role: 'user' as const, content: 'aa' },
    ];
    expect(encodePrompt(tok, record('aa', { messages }), { systemPrompt: 'bb' })).toEqual(
      plain.encode(turn('system', 'bb') + turn('user', 'a') + turn('assistant', 'b') + turn('user', 'aa') + turn('assistant')),
    );
    const own = [{ role: 'system' as const, content: 'b' }, ...messages.slice(2)];
    expect(promptMessages(record('aa', { messages: own }), { systemPrompt: 'a' })).toEqual(own);
    // The record is not modified.
    expect(messages).toHaveLength(3);
  });

  it('chatTemplate: false keeps plain prompts plain and refuses conversations', () => {
    const tok = withTemplate();
    expect(encodePrompt(tok, record('ab'), { chatTemplate: false })).toEqual(encodePromptIds(plain, 'ab'));
    expect(tok.rendered).toHaveLength(0);
    const convo = record('a', { id: 'row-7', messages: [{ role: 'user', content: 'a' }] });
    expect(() => encodePrompt(tok, convo, { chatTemplate: false })).toThrow(/prompt 'row-7' is a conversation .*chatTemplate is false/);
    expect(() => encodePrompt(plain, convo)).toThrow(RftError);
    expect(() => encodePrompt(plain, convo)).toThrow(/has no chat template/);
  });
});

describeBackends('the engine with a prompt format', () => {
  it('feeds the templated ids to the policy, and refuses a bad format before any work', async () => {
    const policy = bigram();
    const tok = withTemplate(policy.tokenizer);
    Object.defineProperty(policy, 'tokenizer', { value: tok });
    const engine = createRolloutEngine({ policy, promptFormat: { systemPrompt: 'b' } });
    const batch = await engine.generate({
      prompts: [record('a')],
      samplesPerPrompt: 1,
      sampling: sampling({ maxNewTokens: 2 }),
      seed: 0,
      step: 0,
    });
    const ids = tok.encode(turn('system', 'b') + turn('user', 'a') + turn('assistant'));
    expect([...batch.tokens.subarray(0, ids.length)]).toEqual(ids);
    expect([...policy.calls.prompts[0]!]).toEqual(ids);
    expect(() => createRolloutEngine({ policy, promptFormat: { chatTemplate: 'yes' } as never })).toThrow(OptionsError);
    expect(() => createRolloutEngine({ policy, promptFormat: { systemPrompt: '' } })).toThrow(/systemPrompt/);
    expect(() => createRolloutEngine({ policy, promptFormat: { sytemPrompt: 'x' } as never })).toThrow(/sytemPrompt/);
  });
});
