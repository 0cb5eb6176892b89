// Hugging Face model folders ↔ HF policies: loadHfPolicy reads config.json and the
// safetensors weights; exportHfPolicy writes a folder transformers' from_pretrained loads.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, ConfigError, OptionsError, type Tokenizer } from '@rftkit/core';
import {
  type HfModelConfig,
  loadHfTokenizer,
  parseHfConfig,
  type ResolveModelOptions,
  readSafetensorsFolder,
  resolveModelSource,
  TOKENIZER_FILE,
  takeTensor,
  writeSafetensorsFile,
} from '@rftkit/hf';
import type { LoraOptions } from './lora-options';
import { loadLoraPolicy } from './lora-load';
import { isHfLoraPolicy } from './lora-policy';
import { createHfPolicy, archFor, type HfPolicy, type WeightMap } from './policy';

/** Tokenizer files copied from the source folder on export (those present). */
const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'added_tokens.json',
  'chat_template.jinja',
  'chat_template.json',
];

/** Buffers some checkpoints carry that are not parameters (recomputed by the model). */
const IGNORED_TENSORS = [/\.attn\.bias$/, /\.attn\.masked_bias$/, /rotary_emb\.inv_freq$/];

export interface LoadHfPolicyOptions extends ResolveModelOptions {
  /**
   * The tokenizer to attach. Default: the folder's HF tokenizer (tokenizer.json) when it has
   * one, else an ids-only tokenizer (encode/decode refuse).
   */
  tokenizer?: Tokenizer;
  /** false: a frozen policy (no trainable variables). Default true. */
  trainable?: boolean;
  /** Token rows per LM-head chunk in tokenStats, forward and backward; default 2²⁴ / vocab (see forward.ts). */
  headChunkTokens?: number;
  /**
   * LoRA adapters (PEFT's meaning: rank, alpha, dropout, targetModules; or `adapter`, a PEFT
   * folder): the base weights are then frozen and only the adapters train (see lora-policy.ts).
   */
  lora?: LoraOptions;
  /** Activation recomputation per transformer block (see createHfPolicy). Default false. */
  recompute?: boolean;
}

/**
 * A tokenizer for id-level use (tests, scoring pre-tokenized data): vocabulary size and
 * special ids from config.json; encode/decode refuse with a clear error.
 */
export function idsOnlyTokenizer(cfg: HfModelConfig, folder: string): Tokenizer {
  const refuse = (): never => {
    throw new ConfigError(folder, [{ path: 'tokenizer', message: 'this policy was loaded without a tokenizer; pass options.tokenizer to loadHfPolicy' }]);
  };
  return {
    id: 'hf-ids',
    vocabSize: cfg.vocabSize,
    padId: cfg.padTokenId ?? cfg.eosTokenIds[0] ?? 0,
    bosId: cfg.bosTokenId ?? 0,
    bosTokenId: cfg.bosTokenId,
    eosId: cfg.eosTokenIds[0] ?? 0,
    stopTokenIds: cfg.eosTokenIds,
    encode: refuse,
    decode: refuse,
    toJSON: () => ({ type: 'hf-ids', vocabSize: cfg.vocabSize }),
  };
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [{ path: '(file)', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
    return json as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(path, [{ path: '(file)', message: `not valid JSON: ${(e as Error).message}` }]);
  }
}

/**
 * Loads a Hugging Face model folder (config.json + model.safetensors or shards) of a
 * supported family (llama, qwen2, qwen3, mistral, gpt2), or a Hub model `hf:org/name[@rev]`
 * from the local Hub cache (fetched only with `download: true`), as a Policy whose weights
 * keep their HF names. Weights of any float dtype are upcast to float32.
 */
export async function loadHfPolicy(source: string, options: LoadHfPolicyOptions = {}): Promise<HfPolicy> {
  const { tokenizer, trainable, headChunkTokens, recompute, lora, ...resolveOptions } = options;
  if (recompute && lora !== undefined) {
    // The recomputed block checks that it reads only its own weights; adapters live apart from them.
    throw new OptionsError('loadHfPolicy', [{ path: 'recompute', message: 'is not supported together with lora yet; drop one of them' }]);
  }
  const { folder } = await resolveModelSource(source, resolveOptions);
  if (!existsSync(join(folder, 'config.json'))) {
    throw new ConfigError(folder, [
      { path: 'folder', message: 'no config.json here; pass a local Hugging Face model folder (download Hub models first, e.g. with `hf download <id>`)' },
    ]);
  }
  const configPath = join(folder, 'config.json');
  const rawConfig = await readJson(configPath);
  const cfg = parseHfConfig(rawConfig, configPath);
  const genPath = join(folder, 'generation_config.json');
  const generationConfig = existsSync(genPath) ? await readJson(genPath) : null;
  const arch = archFor(cfg);
  const tensors = await readSafetensorsFolder(folder);
  const weights: WeightMap = {};
  for (const p of arch.params) {
    const t = takeTensor(tensors, p.name, p.shape, folder);
    weights[p.name] = { shape: t.shape, values: t.values };
  }
  const known = new Set(arch.params.map((p) => p.name));
  // A tied model may still store lm_head.weight (a copy of the embeddings).
  const unused = [...tensors.keys()].filter(
    (n) => !known.has(n) && !(cfg.tieWordEmbeddings && n === 'lm_head.weight') && !IGNORED_TENSORS.some((re) => re.test(n)),
  );
  if (unused.length) {
    throw new CheckpointError(folder, `tensors the ${cfg.modelType} model has no place for: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? `, … (${unused.length})` : ''}`);
  }
  const built = {
    config: cfg,
    weights,
    tokenizer:
      tokenizer ?? (existsSync(join(folder, TOKENIZER_FILE)) ? await loadHfTokenizer(folder) : idsOnlyTokenizer(cfg, folder)),
    meta: { rawConfig, generationConfig, sourceFolder: folder },
    trainable,
    headChunkTokens,
    recompute,
  };
  return lora === undefined ? createHfPolicy(built) : loadLoraPolicy({ ...built, lora, source });
}

export interface ExportHfPolicyOptions {
  /** Stored weight type; bfloat16 rounds to nearest even. Default float32. */
  dtype?: 'float32' | 'bfloat16';
  /** A LoRA policy: also write its adapters as a PEFT folder here. */
  adapterDir?: string;
}

/**
 * Writes `policy` as a Hugging Face folder: config.json, model.safetensors (HF names and
 * layouts; a tied head is not stored, as transformers does), generation_config.json and the
 * source folder's tokenizer files. A LoRA policy is written merged (W + scaling·B·A), a
 * plain model of the base's architecture.
 */
export async function exportHfPolicy(policy: HfPolicy, dir: string, options: ExportHfPolicyOptions = {}): Promise<void> {
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'bfloat16') {
    throw new ConfigError('exportHfPolicy', [{ path: 'dtype', message: `must be 'float32' or 'bfloat16', got ${JSON.stringify(dtype)}` }]);
  }
  if (!policy || typeof (policy as Partial<HfPolicy>).meta !== 'object' || policy.config().type !== 'hf') {
    throw new ConfigError('exportHfPolicy', [{ path: 'policy', message: 'only policies from loadHfPolicy can be exported as an HF folder' }]);
  }
  if (options.adapterDir !== undefined && !isHfLoraPolicy(policy)) {
    throw new ConfigError('exportHfPolicy', [{ path: 'adapterDir', message: 'the policy has no LoRA adapters to write' }]);
  }
  await mkdir(dir, { recursive: true });
  const weights = isHfLoraPolicy(policy) ? policy.mergedWeights() : policy.getWeights();
  const tensors = Object.keys(weights)
    .sort()
    .map((name) => ({ name, shape: weights[name]!.shape, values: weights[name]!.values }));
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { dtype: dtype === 'bfloat16' ? 'BF16' : 'F32', metadata: { format: 'pt' } });
  const config = { ...policy.meta.rawConfig, dtype };
  if ('torch_dtype' in config) config.torch_dtype = dtype;
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const c = policy.hfConfig;
  const generation = policy.meta.generationConfig ?? {
    bos_token_id: c.bosTokenId ?? undefined,
    eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds,
    pad_token_id: c.padTokenId ?? undefined,
  };
  await writeFile(join(dir, 'generation_config.json'), `${JSON.stringify(generation, null, 2)}\n`);
  const source = policy.meta.sourceFolder;
  if (source && source !== dir) {
    for (const file of TOKENIZER_FILES) if (existsSync(join(source, file))) await copyFile(join(source, file), join(dir, file));
  }
  if (options.adapterDir !== undefined && isHfLoraPolicy(policy)) await policy.saveAdapter(options.adapterDir);
}
