// config.json → one normalized, validated HfModelConfig for the supported model families.
// Each family's own field names and defaults (those of transformers' config classes) are
// mapped to one shape, so the model side never reads a raw config.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, type FieldIssue } from '@rftkit/core';
import { z } from 'zod';

export const SUPPORTED_MODEL_TYPES = ['llama', 'qwen2', 'qwen3', 'mistral', 'gpt2'] as const;
export type HfModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

export const SUPPORTED_ROPE_TYPES = ['default', 'llama3'] as const;

/** Llama 3.x frequency-dependent RoPE rescaling (`rope_scaling.rope_type: llama3`). */
export interface Llama3RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface HfModelConfig {
  modelType: HfModelType;
  architectures: string[];
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Key/value heads: = numHeads for MHA, fewer for GQA, 1 for MQA. */
  numKvHeads: number;
  headDim: number;
  /** MLP inner size (gpt2: n_inner, default 4 × n_embd). */
  intermediateSize: number;
  vocabSize: number;
  /** `rms` (llama/qwen/mistral: RMSNorm) or `layer` (gpt2: LayerNorm with bias). */
  normType: 'rms' | 'layer';
  /** rms_norm_eps or layer_norm_epsilon. */
  normEps: number;
  /** `rope` (rotary, rope_theta) or `learned` (gpt2: wpe). */
  positionEmbedding: 'rope' | 'learned';
  /** Rotary base; null for learned positions. */
  ropeTheta: number | null;
  /** null = plain RoPE. */
  ropeScaling: Llama3RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Bias on the q, k, v projections (qwen2: always; llama/mistral/qwen3: attention_bias; gpt2: always). */
  attentionBias: boolean;
  /** Bias on the attention output projection (llama: attention_bias; gpt2: always; qwen2/qwen3/mistral: none). */
  attentionOutputBias: boolean;
  /** Bias on the MLP projections (llama: mlp_bias; gpt2: always). */
  mlpBias: boolean;
  /** RMSNorm over each head of q and k before RoPE (qwen3). */
  qkNorm: boolean;
  /** Attention window in tokens (mistral); null = full causal attention. */
  slidingWindow: number | null;
  /** MLP activation as transformers names it (silu, gelu_new, gelu, gelu_pytorch_tanh, relu). */
  hiddenAct: string;
  bosTokenId: number | null;
  /** Every end-of-sequence id the config lists. */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** torch_dtype (or transformers 5's `dtype`) the weights were saved in; null if unstated. */
  torchDtype: string | null;
}

const posInt = z.number().int().positive();
const tokenId = z.number().int().nonnegative().nullish();
const tokenIds = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullish();
const ACTIVATIONS = ['silu', 'swish', 'gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu'] as const;

const ropeScalingSchema = z
  .looseObject({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    factor: z.number().positive().optional(),
    low_freq_factor: z.number().positive().optional(),
    high_freq_factor: z.number().positive().optional(),
    original_max_position_embeddings: posInt.optional(),
    rope_theta: z.number().positive().optional(),
  })
  .nullish();

const common = {
  architectures: z.array(z.string()).nullish(),
  vocab_size: posInt,
  bos_token_id: tokenId,
  eos_token_id: tokenIds,
  pad_token_id: tokenId,
  tie_word_embeddings: z.boolean().optional(),
  torch_dtype: z.string().nullish(),
  dtype: z.string().nullish(),
};

const ropeFamily = z.looseObject({
  ...common,
  hidden_size: posInt,
  num_hidden_layers: posInt,
  num_attention_heads: posInt,
  num_key_value_heads: posInt.nullish(),
  head_dim: posInt.nullish(),
  intermediate_size: posInt,
  rms_norm_eps: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  rope_scaling: ropeScalingSchema,
  // transformers 5 writes rope_theta and the scaling into one `rope_parameters` object.
  rope_parameters: ropeScalingSchema,
  max_position_embeddings: posInt.optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  hidden_act: z.enum(ACTIVATIONS).optional(),
  sliding_window: posInt.nullish(),
  use_sliding_window: z.boolean().optional(),
});

const gpt2 = z.looseObject({
  ...common,
  n_embd: posInt,
  n_layer: posInt,
  n_head: posInt,
  n_positions: posInt,
  n_inner: posInt.nullish(),
  layer_norm_epsilon: z.number().positive().optional(),
  activation_function: z.enum(ACTIVATIONS).optional(),
});

function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function eosList(value: number | number[] | null | undefined): number[] {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function parseRope(source: string, raw: z.infer<typeof ropeFamily>): { theta: number; scaling: Llama3RopeScaling | null } {
  const params = raw.rope_parameters ?? raw.rope_scaling ?? null;
  const theta = raw.rope_theta ?? raw.rope_parameters?.rope_theta ?? 10000;
  const field = raw.rope_parameters ? 'rope_parameters' : 'rope_scaling';
  const type = params?.rope_type ?? params?.type ?? 'default';
  if (!(SUPPORTED_ROPE_TYPES as readonly string[]).includes(type)) {
    throw new ConfigError(source, [
      { path: `${field}.rope_type`, message: `'${type}' is not supported (supported: ${SUPPORTED_ROPE_TYPES.join(', ')})` },
    ]);
  }
  if (type === 'default' || !params) return { theta, scaling: null };
  const missing = (['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'] as const).filter(
    (k) => params[k] === undefined,
  );
  if (missing.length) {
    throw new ConfigError(
      source,
      missing.map((k) => ({ path: `${field}.${k}`, message: 'required for llama3 RoPE scaling' })),
    );
  }
  return {
    theta,
    scaling: {
      type: 'llama3',
      factor: params.factor as number,
      lowFreqFactor: params.low_freq_factor as number,
      highFreqFactor: params.high_freq_factor as number,
      originalMaxPositionEmbeddings: params.original_max_position_embeddings as number,
    },
  };
}

/** Validates and normalizes a parsed config.json; `source` names it in errors. */
export function parseHfConfig(json: unknown, source = 'config.json'): HfModelConfig {
  const modelType = (json as { model_type?: unknown } | null)?.model_type;
  if (typeof modelType !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ConfigError(source, [
      {
        path: 'model_type',
        message: `${JSON.stringify(modelType ?? null)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
      },
    ]);
  }
  const type = modelType as HfModelType;
  if (type === 'gpt2') {
    const parsed = gpt2.safeParse(json);
    if (!parsed.success) throw new ConfigError(source, issuesOf(parsed.error));
    const c = parsed.data;
    if (c.n_embd % c.n_head !== 0) {
      throw new ConfigError(source, [{ path: 'n_embd', message: `${c.n_embd} is not divisible by n_head (${c.n_head})` }]);
    }
    return {
      modelType: type,
      architectures: c.architectures ?? [],
      hiddenSize: c.n_embd,
      numLayers: c.n_layer,
      numHeads: c.n_head,
      numKvHeads: c.n_head,
      headDim: c.n_embd / c.n_head,
      intermediateSize: c.n_inner ?? 4 * c.n_embd,
      vocabSize: c.vocab_size,
      normType: 'layer',
      normEps: c.layer_norm_epsilon ?? 1e-5,
      positionEmbedding: 'learned',
      ropeTheta: null,
      ropeScaling: null,
      maxPositionEmbeddings: c.n_positions,
      tieWordEmbeddings: c.tie_word_embeddings ?? true,
      attentionBias: true,
      attentionOutputBias: true,
      mlpBias: true,
      qkNorm: false,
      slidingWindow: null,
      hiddenAct: c.activation_function ?? 'gelu_new',
      bosTokenId: c.bos_token_id ?? 50256,
      eosTokenIds: c.eos_token_id === undefined ? [50256] : eosList(c.eos_token_id),
      padTokenId: c.pad_token_id ?? null,
      torchDtype: c.torch_dtype ?? c.dtype ?? null,
    };
  }
  const parsed = ropeFamily.safeParse(json);
  if (!parsed.success) throw new ConfigError(source, issuesOf(parsed.error));
  const c = parsed.data;
  // mistral's class default is 8 kv heads; the others default to one per attention head.
  const numKvHeads = c.num_key_value_heads ?? (type === 'mistral' ? 8 : c.num_attention_heads);
  const issues: FieldIssue[] = [];
  if (c.num_attention_heads % numKvHeads !== 0) {
    issues.push({ path: 'num_key_value_heads', message: `${numKvHeads} does not divide num_attention_heads (${c.num_attention_heads})` });
  }
  // qwen3's default head_dim is 128; the others derive it from the hidden size.
  const headDim = c.head_dim ?? (type === 'qwen3' ? 128 : c.hidden_size / c.num_attention_heads);
  if (!Number.isInteger(headDim)) {
    issues.push({ path: 'hidden_size', message: `${c.hidden_size} is not divisible by num_attention_heads (${c.num_attention_heads})` });
  }
  if ((type === 'qwen2' || type === 'qwen3') && c.use_sliding_window) {
    issues.push({ path: 'use_sliding_window', message: 'sliding-window attention is supported for mistral only; set it to false' });
  }
  if (issues.length) throw new ConfigError(source, issues);
  const rope = parseRope(source, c);
  const attentionBias = c.attention_bias ?? false;
  const sentencePieceIds = type === 'llama' || type === 'mistral';
  return {
    modelType: type,
    architectures: c.architectures ?? [],
    hiddenSize: c.hidden_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads,
    headDim,
    intermediateSize: c.intermediate_size,
    vocabSize: c.vocab_size,
    normType: 'rms',
    normEps: c.rms_norm_eps ?? 1e-6,
    positionEmbedding: 'rope',
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    maxPositionEmbeddings: c.max_position_embeddings ?? (type === 'mistral' ? 131072 : type === 'llama' ? 2048 : 32768),
    tieWordEmbeddings: c.tie_word_embeddings ?? false,
    attentionBias: type === 'qwen2' ? true : attentionBias,
    attentionOutputBias: type === 'llama' ? attentionBias : false,
    mlpBias: type === 'llama' ? (c.mlp_bias ?? false) : false,
    qkNorm: type === 'qwen3',
    slidingWindow: type === 'mistral' ? (c.sliding_window === undefined ? 4096 : (c.sliding_window ?? null)) : null,
    hiddenAct: c.hidden_act ?? 'silu',
    // llama and mistral configs default to bos 1 / eos 2 (their SentencePiece vocabularies); qwen to none.
    bosTokenId: c.bos_token_id === undefined ? (sentencePieceIds ? 1 : null) : c.bos_token_id,
    eosTokenIds: c.eos_token_id === undefined ? (sentencePieceIds ? [2] : []) : eosList(c.eos_token_id),
    padTokenId: c.pad_token_id ?? null,
    torchDtype: c.torch_dtype ?? c.dtype ?? null,
  };
}

/** Reads and normalizes `<folder>/config.json`. */
export async function readHfConfig(folder: string): Promise<HfModelConfig> {
  const path = join(folder, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [{ path: '(file)', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(path, [{ path: '(file)', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  return parseHfConfig(json, path);
}
