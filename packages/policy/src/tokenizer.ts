import type { Tokenizer } from '@rftkit/core';
import { RftError } from '@rftkit/core';

/** Text that a tokenizer cannot encode, or a tokenizer description that cannot be rebuilt. */
export class TokenizerError extends RftError {
  constructor(message: string) {
    super('E_DATASET', message);
  }
}

export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
const SPECIAL_COUNT = 3;

export interface CharTokenizer extends Tokenizer {
  /** The unique characters, in id order (id = index + 3). */
  readonly alphabet: string;
}

/**
 * A character vocabulary: pad 0, bos 1, eos 2, then each unique character of `alphabet`
 * in order of first appearance. Characters are Unicode code points, not UTF-16 units.
 */
export function createCharTokenizer(options: { alphabet: string }): CharTokenizer {
  if (typeof options?.alphabet !== 'string' || options.alphabet.length === 0) {
    throw new TokenizerError('char tokenizer: alphabet must be a non-empty string');
  }
  const chars = [...new Set(Array.from(options.alphabet))];
  const alphabet = chars.join('');
  const toId = new Map(chars.map((c, i) => [c, i + SPECIAL_COUNT]));
  return {
    id: 'char',
    alphabet,
    vocabSize: chars.length + SPECIAL_COUNT,
    padId: PAD_ID,
    bosId: BOS_ID,
    eosId: EOS_ID,
    encode(text: string): number[] {
      const ids: number[] = [];
      for (const c of text) {
        const id = toId.get(c);
        if (id === undefined) {
          throw new TokenizerError(
            `char tokenizer: character ${JSON.stringify(c)} in ${JSON.stringify(text)} is not in the alphabet ${JSON.stringify(alphabet)}`,
          );
        }
        ids.push(id);
      }
      return ids;
    },
    decode(ids: ArrayLike<number>): string {
      let out = '';
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (id < SPECIAL_COUNT) continue;
        const c = chars[id - SPECIAL_COUNT];
        if (c === undefined || !Number.isInteger(id)) {
          throw new TokenizerError(`char tokenizer: id ${id} is outside the vocabulary [0, ${chars.length + SPECIAL_COUNT})`);
        }
        out += c;
      }
      return out;
    },
    toJSON() {
      return { type: 'char', alphabet };
    },
  };
}

/** Rebuilds a tokenizer from its `toJSON()` description. */
export function tokenizerFromJSON(json: unknown): Tokenizer {
  const obj = json as { type?: unknown; alphabet?: unknown } | null;
  if (obj === null || typeof obj !== 'object') throw new TokenizerError('tokenizer description must be an object');
  if (obj.type === 'char') {
    if (typeof obj.alphabet !== 'string' || obj.alphabet.length === 0) {
      throw new TokenizerError('char tokenizer description: alphabet must be a non-empty string');
    }
    return createCharTokenizer({ alphabet: obj.alphabet });
  }
  throw new TokenizerError(`unknown tokenizer type ${JSON.stringify(obj.type)}; known types: char`);
}

/** Token ids of a prompt: `[bos, ...encode(text)]`, without bos when `bosTokenId` is null. */
export function encodePrompt(tokenizer: Tokenizer, text: string): number[] {
  const bos = tokenizer.bosTokenId === undefined ? tokenizer.bosId : tokenizer.bosTokenId;
  return bos === null ? tokenizer.encode(text) : [bos, ...tokenizer.encode(text)];
}
