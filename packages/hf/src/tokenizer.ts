// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json, through
// @huggingface/tokenizers) behind core's Tokenizer interface, with the ids rftkit needs from
// the config files (bos/eos/pad, every stop id of generation_config.json) and the chat template.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { CheckpointError, type Tokenizer } from '@rftkit/core';
import type { Template } from '@huggingface/jinja';
import { type ChatMessage, type ChatTemplateOptions, compileChatTemplate, renderChatTemplate, selectChatTemplate } from './chat-template';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';
export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';
export const SPECIAL_TOKENS_MAP_FILE = 'special_tokens_map.json';

/** The files a tokenizer is built from (contents, parsed). */
export interface HfTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  generationConfig?: Record<string, unknown> | undefined;
  /** chat_template.jinja, which wins over tokenizer_config.json's chat_template (as in transformers). */
  chatTemplate?: string | undefined;
}

/** What toJSON() records: the folder and the hash of each file, so a rebuild is checked. */
export interface HfTokenizerJSON {
  type: 'hf';
  folder: string;
  sha256: Record<string, string>;
  [key: string]: unknown;
}

/** A special token as tokenizer_config.json writes it: a string or an AddedToken object. */
function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

function idList(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number');
  return [];
}

export class HfTokenizer implements Tokenizer {
  readonly id: string;
  readonly vocabSize: number;
  /** bos id, or (the model has none, e.g. Qwen) the pad id: check `bosTokenId` before prepending. */
  readonly bosId: number;
  readonly eosId: number;
  /** pad id, or the eos id when the tokenizer defines no pad token (e.g. Llama 3). */
  readonly padId: number;
  /** The bos token's id as configured; null when the model has none. */
  readonly bosTokenId: number | null;
  readonly padTokenId: number | null;
  /** Every id that ends generation: the eos token plus each eos_token_id of generation_config.json. */
  readonly stopTokenIds: readonly number[];
  /** Ids of every added token marked special (skipped by decode). */
  readonly specialTokenIds: readonly number[];
  /** The chat template in use; null when the files define none. */
  readonly chatTemplate: string | null;
  /** Special-token strings the template sees (bos_token, eos_token, pad_token, unk_token). */
  readonly specialTokens: Readonly<Record<string, string>>;

  private readonly impl: HfTokenizerImpl;
  private readonly config: Record<string, unknown>;
  private readonly description: HfTokenizerJSON;
  private compiledTemplate: Template | undefined;

  constructor(files: HfTokenizerFiles, description: HfTokenizerJSON = { type: 'hf', folder: '', sha256: {} }) {
    const where = description.folder || 'tokenizer';
    try {
      this.impl = new HfTokenizerImpl(files.tokenizerJson, files.tokenizerConfig);
    } catch (e) {
      throw new CheckpointError(join(where, TOKENIZER_FILE), `cannot build the tokenizer: ${(e as Error).message}`, { cause: e });
    }
    this.config = files.tokenizerConfig;
    this.description = description;
    const vocab = this.impl.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const idOf = (key: string): number | null => {
      const content = tokenContent(this.config[key]);
      if (content === null) return null;
      const id = this.impl.token_to_id(content);
      if (id === undefined) throw new CheckpointError(join(where, TOKENIZER_CONFIG_FILE), `${key} '${content}' is not in the vocabulary`);
      return id;
    };
    const specialTokens: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const content = tokenContent(this.config[key]);
      if (content !== null) specialTokens[key] = content;
    }
    this.specialTokens = specialTokens;
    const eos = idOf('eos_token') ?? idList(files.generationConfig?.eos_token_id)[0] ?? null;
    if (eos === null) {
      throw new CheckpointError(where, `no eos token: neither ${TOKENIZER_CONFIG_FILE} eos_token nor ${GENERATION_CONFIG_FILE} eos_token_id is set`);
    }
    this.eosId = eos;
    this.bosTokenId = idOf('bos_token') ?? (typeof files.generationConfig?.bos_token_id === 'number' ? files.generationConfig.bos_token_id : null);
    this.padTokenId = idOf('pad_token');
    this.padId = this.padTokenId ?? this.eosId;
    this.bosId = this.bosTokenId ?? this.padId;
    this.stopTokenIds = [...new Set([this.eosId, ...idList(files.generationConfig?.eos_token_id)])];
    this.specialTokenIds = [...this.impl.get_added_tokens_decoder()]
      .filter(([, t]) => t.special)
      .map(([id]) => id)
      .sort((a, b) => a - b);
    this.chatTemplate = selectChatTemplate(files.chatTemplate, this.config.chat_template, where);
    const name = typeof this.config.name_or_path === 'string' ? this.config.name_or_path : description.folder;
    this.id = `hf:${name}`;
  }

  /**
   * Loads tokenizer.json, tokenizer_config.json, and (when present) special_tokens_map.json,
   * generation_config.json and chat_template.jinja.
   */
  static async fromFolder(folder: string): Promise<HfTokenizer> {
    const dir = resolve(folder);
    const sha256: Record<string, string> = {};
    const read = async (file: string, required: boolean): Promise<string | undefined> => {
      const path = join(dir, file);
      if (!existsSync(path)) {
        if (required) throw new CheckpointError(path, `missing (a Hugging Face tokenizer needs ${TOKENIZER_FILE} and ${TOKENIZER_CONFIG_FILE})`);
        return undefined;
      }
      const text = await readFile(path, 'utf8');
      sha256[file] = createHash('sha256').update(text).digest('hex');
      return text;
    };
    const parse = (file: string, text: string | undefined): Record<string, unknown> | undefined => {
      if (text === undefined) return undefined;
      try {
        const json = JSON.parse(text);
        if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
        return json;
      } catch (e) {
        throw new CheckpointError(join(dir, file), `not valid JSON: ${(e as Error).message}`, { cause: e });
      }
    };
    const tokenizerJson = parse(TOKENIZER_FILE, await read(TOKENIZER_FILE, true)) as Record<string, unknown>;
    const tokenizerConfig = parse(TOKENIZER_CONFIG_FILE, await read(TOKENIZER_CONFIG_FILE, true)) as Record<string, unknown>;
    // Older repos (e.g. TinyLlama) keep bos/eos/pad/unk only in special_tokens_map.json.
    const specialMap = parse(SPECIAL_TOKENS_MAP_FILE, await read(SPECIAL_TOKENS_MAP_FILE, false)) ?? {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      if (tokenizerConfig[key] === undefined && specialMap[key] !== undefined) tokenizerConfig[key] = specialMap[key];
    }
    const generationConfig = parse(GENERATION_CONFIG_FILE, await read(GENERATION_CONFIG_FILE, false));
    const chatTemplate = await read(CHAT_TEMPLATE_FILE, false);
    return new HfTokenizer({ tokenizerJson, tokenizerConfig, generationConfig, chatTemplate }, { type: 'hf', folder: dir, sha256 });
  }

  /** Rebuilds from toJSON(): reads the recorded folder and refuses files that changed since. */
  static async fromJSON(json: Record<string, unknown>): Promise<HfTokenizer> {
    const { type, folder, sha256 } = json as Partial<HfTokenizerJSON>;
    if (type !== 'hf' || typeof folder !== 'string' || typeof sha256 !== 'object' || sha256 === null) {
      throw new CheckpointError('tokenizer', "not an HfTokenizer description (expected { type: 'hf', folder, sha256 })");
    }
    const tok = await HfTokenizer.fromFolder(folder);
    const now = tok.description.sha256;
    for (const file of new Set([...Object.keys(sha256), ...Object.keys(now)])) {
      if (sha256[file] !== now[file]) {
        throw new CheckpointError(join(folder, file), 'changed since the checkpoint was saved (sha256 differs); tokenization would silently differ');
      }
    }
    return tok;
  }

  /** Token ids of `text`; special tokens (bos...) are added only with `addSpecialTokens: true`. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.impl.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  /** Text of `ids`, skipping special tokens unless told otherwise; '' for no ids. */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    const list = Array.from(ids);
    const bad = list.find((id) => !Number.isInteger(id) || id < 0);
    if (bad !== undefined) throw new RangeError(`token id ${bad} is not a non-negative integer`);
    // Ids past the tokenizer's vocabulary (the embedding's padding rows, e.g. Qwen's 151669..151935)
    // decode to nothing, as in Python tokenizers.
    // transformers 5 never applies clean_up_tokenization_spaces to BPE tokenizers.
    return this.impl.decode(list, { skip_special_tokens: options.skipSpecialTokens ?? true, clean_up_tokenization_spaces: false });
  }

  /** The token string of an id (undefined outside the vocabulary). */
  idToToken(id: number): string | undefined {
    return this.impl.id_to_token(id);
  }

  /** The id of a token string (undefined when it is not one token). */
  tokenToId(token: string): number | undefined {
    return this.impl.token_to_id(token);
  }

  /**
   * Renders the chat template as transformers' apply_chat_template does, and tokenizes the
   * text without adding special tokens (the template writes them).
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): { text: string; ids: number[] } {
    if (this.chatTemplate === null) {
      throw new CheckpointError(this.description.folder || 'tokenizer', `no chat template (looked for ${CHAT_TEMPLATE_FILE} and chat_template in ${TOKENIZER_CONFIG_FILE})`);
    }
    this.compiledTemplate ??= compileChatTemplate(this.chatTemplate);
    const text = renderChatTemplate(this.compiledTemplate, messages, this.specialTokens, options);
    return { text, ids: this.encode(text) };
  }

  toJSON(): Record<string, unknown> {
    return { ...this.description, sha256: { ...this.description.sha256 } };
  }
}

/** Loads the tokenizer of a model folder. */
export function loadHfTokenizer(folder: string): Promise<HfTokenizer> {
  return HfTokenizer.fromFolder(folder);
}
