import { isRftError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { createCharTokenizer, encodePrompt, tokenizerFromJSON } from './tokenizer';

describe('char tokenizer', () => {
  const tok = createCharTokenizer({ alphabet: 'ab+a=é' });

  it('puts pad, bos, eos first, then unique characters in order', () => {
    expect([tok.padId, tok.bosId, tok.eosId]).toEqual([0, 1, 2]);
    expect(tok.vocabSize).toBe(8);
    expect(tok.encode('ab+=é')).toEqual([3, 4, 5, 6, 7]);
    expect(tok.alphabet).toBe('ab+=é');
  });

  it('decodes, skipping special tokens', () => {
    expect(tok.decode([1, 3, 0, 7, 4, 2])).toBe('aéb');
    expect(tok.decode(Int32Array.of(5, 6))).toBe('+=');
    expect(() => tok.decode([8])).toThrow(/outside the vocabulary \[0, 8\)/);
  });

  it('names the character and the alphabet when a character is unknown', () => {
    let error: unknown;
    try {
      tok.encode('ab?');
    } catch (e) {
      error = e;
    }
    expect(isRftError(error)).toBe(true);
    expect(String((error as Error).message)).toContain('"?"');
    expect(String((error as Error).message)).toContain('"ab+=é"');
  });

  it('round-trips through JSON', () => {
    const json = JSON.parse(JSON.stringify(tok.toJSON()));
    const back = tokenizerFromJSON(json);
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect(back.encode('é=ba')).toEqual(tok.encode('é=ba'));
    expect(() => tokenizerFromJSON({ type: 'bpe' })).toThrow(/unknown tokenizer type "bpe"; known types: char/);
    expect(() => tokenizerFromJSON({ type: 'char', alphabet: '' })).toThrow(/alphabet/);
  });

  it('encodes prompts with a leading bos', () => {
    expect(encodePrompt(tok, 'ba')).toEqual([1, 4, 3]);
    expect(encodePrompt(tok, '')).toEqual([1]);
    // A tokenizer that declares its bos uses it; one that declares none (Qwen) gets no bos.
    expect(encodePrompt({ ...tok, bosTokenId: 7 }, 'ba')).toEqual([7, 4, 3]);
    expect(encodePrompt({ ...tok, bosTokenId: null }, 'ba')).toEqual([4, 3]);
  });

  it('rejects an empty alphabet', () => {
    expect(() => createCharTokenizer({ alphabet: '' })).toThrow(/non-empty/);
  });
});
