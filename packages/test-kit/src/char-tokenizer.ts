import type { Tokenizer } from '@rftkit/core';

/**
 * The test policies' tokenizer: pad 0, bos 1, eos 2, then the alphabet's characters in
 * order. Encoding a character outside the alphabet throws, so a fixture typo fails loudly.
 */
export function charTokenizer(alphabet: string): Tokenizer {
  const chars = [...new Set(alphabet)];
  const ids = new Map(chars.map((c, i) => [c, i + 3]));
  return {
    id: 'test-char',
    vocabSize: chars.length + 3,
    padId: 0,
    bosId: 1,
    eosId: 2,
    encode: (text) =>
      [...text].map((c) => {
        const id = ids.get(c);
        if (id === undefined) throw new Error(`unknown char ${c}`);
        return id;
      }),
    decode: (tokens) =>
      Array.from(tokens)
        .filter((t) => t >= 3)
        .map((t) => chars[t - 3])
        .join(''),
    toJSON: () => ({ alphabet: chars.join('') }),
  };
}
