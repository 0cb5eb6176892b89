// A Hugging Face decoder as a Policy: weights under their HF names, the family's forward
// pass, KV-cache decoding and chunked token statistics.
import * as tf from '@tensorflow/tfjs-core';
import { type ForwardInput, OptionsError, type Policy, ShapeError, type TokenStats, type Tokenizer } from '@rftkit/core';
import type { HfModelConfig } from '@rftkit/hf';
import type { Arch } from './arch';
import { defaultHeadChunkTokens, headTokenStats, hiddenStates, startHfDecode } from './forward';
import { gpt2Arch } from './gpt2';
import { llamaArch } from './llama';
import { mistralArch } from './mistral';
import { qwen2Arch } from './qwen2';
import { qwen3Arch } from './qwen3';

export type WeightMap = Record<string, { shape: number[]; values: Float32Array }>;

/** The family implementation of a normalized config (one file per family). */
export function archFor(cfg: HfModelConfig): Arch {
  switch (cfg.modelType) {
    case 'llama':
      return llamaArch(cfg);
    case 'qwen2':
      return qwen2Arch(cfg);
    case 'qwen3':
      return qwen3Arch(cfg);
    case 'mistral':
      return mistralArch(cfg);
    case 'gpt2':
      return gpt2Arch(cfg);
  }
}

/** What an HF policy carries beyond its weights, so it can be exported as an HF folder again. */
export interface HfPolicyMeta {
  /** config.json as read (exported with only the dtype changed). */
  rawConfig: Record<string, unknown>;
  /** generation_config.json as read, if the folder had one. */
  generationConfig: Record<string, unknown> | null;
  /** The folder it was loaded from (its tokenizer files are copied on export). */
  sourceFolder: string | null;
}

export interface HfPolicy extends Policy {
  readonly hfConfig: HfModelConfig;
  readonly meta: HfPolicyMeta;
  /**
   * What a checkpoint needs to rebuild the policy: config.json as read (`hf`), the
   * generation config, the source folder, the LM-head chunk size and the recompute flag.
   */
  config(): {
    type: 'hf';
    modelType: string;
    hf: Record<string, unknown>;
    generation: Record<string, unknown> | null;
    sourceFolder: string | null;
    headChunkTokens: number;
    recompute: boolean;
  };
  clone(options?: { trainable?: boolean }): HfPolicy;
}

/** Shape and length checks shared by the HF policies' entry points. */
export function checkInput(where: string, input: ForwardInput, maxLen: number, arch: Arch, extra = 0): void {
  const { tokens, attentionMask } = input;
  if (tokens.rank !== 2 || attentionMask.rank !== 2) {
    throw new ShapeError(where, `tokens and attentionMask must be [batch, seqLen]; got ${tokens.shape} and ${attentionMask.shape}`);
  }
  if (tokens.shape[0] !== attentionMask.shape[0] || tokens.shape[1] !== attentionMask.shape[1]) {
    throw new ShapeError(where, `tokens ${tokens.shape} and attentionMask ${attentionMask.shape} differ in shape`);
  }
  const length = tokens.shape[1] + extra;
  if (tokens.shape[1] < 1) throw new ShapeError(where, 'empty sequence');
  if (length > maxLen) throw new ShapeError(where, `sequence length ${length} exceeds max_position_embeddings ${maxLen}`);
  arch.checkLength(length, where);
}

class HfDecoderPolicy implements HfPolicy {
  readonly id: string;
  readonly tokenizer: Tokenizer;
  readonly maxSeqLen: number;
  readonly hfConfig: HfModelConfig;
  readonly meta: HfPolicyMeta;
  readonly #arch: Arch;
  readonly #vars: Record<string, tf.Variable>;
  readonly #trainable: boolean;
  readonly #headChunkTokens: number;
  readonly #recompute: boolean;
  #disposed = false;

  constructor(
    arch: Arch,
    vars: Record<string, tf.Variable>,
    tokenizer: Tokenizer,
    meta: HfPolicyMeta,
    trainable: boolean,
    headChunkTokens: number,
    recompute: boolean,
  ) {
    this.#headChunkTokens = headChunkTokens;
    this.#recompute = recompute;
    this.#arch = arch;
    this.hfConfig = arch.cfg;
    this.id = `hf:${arch.cfg.modelType}`;
    this.maxSeqLen = arch.cfg.maxPositionEmbeddings;
    this.#vars = vars;
    this.tokenizer = tokenizer;
    this.meta = meta;
    this.#trainable = trainable;
  }

  get #W(): Record<string, tf.Tensor> {
    if (this.#disposed) throw new ShapeError('policy', 'the policy was disposed');
    return this.#vars;
  }

  forward(input: ForwardInput): tf.Tensor3D {
    checkInput('policy.forward', input, this.maxSeqLen, this.#arch);
    const W = this.#W;
    const [B, T] = input.tokens.shape;
    return tf.tidy(() => tf.reshape(this.#arch.head(W, hiddenStates(this.#arch, W, input)), [B, T, -1]) as tf.Tensor3D);
  }

  tokenStats(input: ForwardInput, options: { temperature?: number } = {}): TokenStats {
    const temperature = options.temperature ?? 1;
    if (!(temperature > 0) || !Number.isFinite(temperature)) {
      throw new OptionsError('policy.tokenStats', [{ path: 'temperature', message: `must be a finite number > 0, got ${temperature}` }]);
    }
    checkInput('policy.tokenStats', input, this.maxSeqLen, this.#arch);
    const W = this.#W;
    return tf.tidy(() => headTokenStats(this.#arch, W, input, temperature, this.#headChunkTokens, this.#recompute) as unknown as tf.NamedTensorMap) as unknown as TokenStats;
  }

  startDecode(input: ForwardInput, maxNewTokens: number) {
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
      throw new ShapeError('policy.startDecode', `maxNewTokens must be an integer ≥ 1, got ${maxNewTokens}`);
    }
    checkInput('policy.startDecode', input, this.maxSeqLen, this.#arch, maxNewTokens);
    return startHfDecode(this.#arch, this.#W, input, maxNewTokens);
  }

  trainableVariables(): tf.Variable[] {
    void this.#W;
    return this.#trainable ? Object.values(this.#vars) : [];
  }

  clone(options: { trainable?: boolean } = {}): HfPolicy {
    const trainable = options.trainable ?? true;
    const vars: Record<string, tf.Variable> = {};
    for (const [name, v] of Object.entries(this.#W)) vars[name] = tf.variable(v, trainable);
    return new HfDecoderPolicy(this.#arch, vars, this.tokenizer, this.meta, trainable, this.#headChunkTokens, this.#recompute);
  }

  /** Weights under their HF names and in the HF layout (`[out, in]` for Linear weights), as held. */
  getWeights(): WeightMap {
    const W = this.#W;
    const out: WeightMap = {};
    for (const p of this.#arch.params) {
      // A copy: some backends hand out their own storage from dataSync.
      out[p.name] = { shape: [...p.shape], values: Float32Array.from(W[p.name]!.dataSync()) };
    }
    return out;
  }

  setWeights(weights: WeightMap): void {
    void this.#W;
    const params = this.#arch.params;
    const missing = params.filter((p) => !(p.name in weights)).map((p) => p.name);
    const known = new Set(params.map((p) => p.name));
    const extra = Object.keys(weights).filter((n) => !known.has(n));
    if (missing.length || extra.length) {
      throw new ShapeError(
        'policy.setWeights',
        `weight names differ from the model's (missing: ${missing.join(', ') || 'none'}; unknown: ${extra.join(', ') || 'none'})`,
      );
    }
    for (const p of params) {
      const w = weights[p.name]!;
      const size = p.shape.reduce((a, b) => a * b, 1);
      if (w.shape.join(',') !== p.shape.join(',') || w.values.length !== size) {
        throw new ShapeError('policy.setWeights', `weight '${p.name}' has shape [${w.shape}] (${w.values.length} values); the model needs [${p.shape}]`);
      }
    }
    for (const p of params) {
      const v = this.#vars[p.name]!;
      tf.tidy(() => v.assign(tf.tensor(Float32Array.from(weights[p.name]!.values), p.shape, 'float32')));
    }
  }

  config() {
    return {
      type: 'hf' as const,
      modelType: this.hfConfig.modelType,
      hf: this.meta.rawConfig,
      generation: this.meta.generationConfig,
      sourceFolder: this.meta.sourceFolder,
      headChunkTokens: this.#headChunkTokens,
      recompute: this.#recompute,
    };
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tf.dispose(Object.values(this.#vars));
  }
}

/**
 * Builds an HF policy from a normalized config and HF-named, HF-layout weights (every
 * parameter of the family must be present with its HF shape).
 */
export function createHfPolicy(options: {
  config: HfModelConfig;
  weights: WeightMap;
  tokenizer: Tokenizer;
  meta: HfPolicyMeta;
  trainable?: boolean;
  /** Token rows per LM-head chunk in tokenStats, forward and backward (memory knob); default 2²⁴ / vocab. */
  headChunkTokens?: number;
  /**
   * Activation recomputation: under a gradient tape each transformer block keeps only its
   * input, and the backward pass runs it again (≈ one more forward of the layers, for
   * activation memory of one block instead of all). Same numbers either way. Default false.
   */
  recompute?: boolean;
}): HfPolicy {
  const chunk = options.headChunkTokens ?? defaultHeadChunkTokens(options.config.vocabSize);
  if (!Number.isInteger(chunk) || chunk < 1) {
    throw new OptionsError('createHfPolicy', [{ path: 'headChunkTokens', message: `must be an integer ≥ 1, got ${chunk}` }]);
  }
  if (options.recompute !== undefined && typeof options.recompute !== 'boolean') {
    throw new OptionsError('createHfPolicy', [{ path: 'recompute', message: `must be true or false, got ${JSON.stringify(options.recompute)}` }]);
  }
  const arch = archFor(options.config);
  const trainable = options.trainable ?? true;
  const vars: Record<string, tf.Variable> = {};
  for (const p of arch.params) {
    const w = options.weights[p.name];
    if (!w || w.shape.join(',') !== p.shape.join(',')) {
      tf.dispose(Object.values(vars));
      throw new ShapeError(
        'createHfPolicy',
        w ? `weight '${p.name}' has shape [${w.shape}], the config needs [${p.shape}]` : `weight '${p.name}' (shape [${p.shape}]) is missing`,
      );
    }
    vars[p.name] = tf.tidy(() => tf.variable(tf.tensor(w.values, p.shape, 'float32'), trainable));
  }
  return new HfDecoderPolicy(arch, vars, options.tokenizer, options.meta, trainable, chunk, options.recompute ?? false);
}
