import * as tf from '@tensorflow/tfjs-core';
import {
  type ForwardInput,
  OptionsError,
  parseOptions,
  type Policy,
  ShapeError,
  type TokenStats,
  type Tokenizer,
} from '@rftkit/core';
import { tokenLogProbs } from '@rftkit/tensor';
import { startDecodeSession } from './decode';
import { forwardLogits, initValues, type Params, paramSpecs } from './model';
import { type TransformerConfig, type TransformerOptions, transformerOptionsSchema } from './options';

export type WeightMap = Record<string, { shape: number[]; values: Float32Array }>;

export interface TransformerPolicy extends Policy {
  config(): TransformerConfig & { type: 'transformer' };
  clone(options?: { trainable?: boolean }): TransformerPolicy;
}

function checkInput(where: string, input: ForwardInput): void {
  const { tokens, attentionMask } = input;
  if (tokens.rank !== 2 || attentionMask.rank !== 2) {
    throw new ShapeError(where, `tokens and attentionMask must be [batch, seqLen]; got ${tokens.shape} and ${attentionMask.shape}`);
  }
  if (tokens.shape[0] !== attentionMask.shape[0] || tokens.shape[1] !== attentionMask.shape[1]) {
    throw new ShapeError(where, `tokens ${tokens.shape} and attentionMask ${attentionMask.shape} differ in shape`);
  }
  if (tokens.shape[1] < 1) throw new ShapeError(where, 'empty sequence');
}

class Transformer implements TransformerPolicy {
  readonly id = 'transformer';
  readonly tokenizer: Tokenizer;
  readonly maxSeqLen: number;
  readonly #cfg: TransformerConfig;
  readonly #vars: Record<string, tf.Variable>;
  readonly #trainable: boolean;
  #disposed = false;

  constructor(tokenizer: Tokenizer, cfg: TransformerConfig, vars: Record<string, tf.Variable>, trainable: boolean) {
    this.tokenizer = tokenizer;
    this.#cfg = cfg;
    this.maxSeqLen = cfg.maxSeqLen;
    this.#vars = vars;
    this.#trainable = trainable;
  }

  get #params(): Params {
    if (this.#disposed) throw new ShapeError('policy', 'the policy was disposed');
    return this.#vars;
  }

  forward(input: ForwardInput): tf.Tensor3D {
    checkInput('policy.forward', input);
    const P = this.#params;
    return tf.tidy(() => forwardLogits(P, this.#cfg, input.tokens, input.attentionMask));
  }

  tokenStats(input: ForwardInput, options: { temperature?: number } = {}): TokenStats {
    const temperature = options.temperature ?? 1;
    if (!(temperature > 0) || !Number.isFinite(temperature)) {
      throw new OptionsError('policy.tokenStats', [
        { path: 'temperature', message: `must be a finite number > 0, got ${temperature}` },
      ]);
    }
    checkInput('policy.tokenStats', input);
    const P = this.#params;
    return tf.tidy(() => {
      const [B, T] = input.tokens.shape;
      const logits = forwardLogits(P, this.#cfg, input.tokens, input.attentionMask);
      if (T === 1) return { logp: tf.zeros([B, 1]) as tf.Tensor2D, entropy: tf.zeros([B, 1]) as tf.Tensor2D };
      // Position t is scored by the logits at t − 1; position 0 has no predictor.
      const prev = tf.slice(logits, [0, 0, 0], [B, T - 1, -1]);
      const next = tf.slice(tf.cast(input.tokens, 'int32'), [0, 1], [B, T - 1]);
      const pad: Array<[number, number]> = [
        [0, 0],
        [1, 0],
      ];
      // Core's fused op: one kernel each way for logp and entropy on wasm/cpu (the same
      // log-softmax arithmetic as gatherLogProbs and entropyFromLogits, within rounding).
      const { logp, entropy } = tokenLogProbs(prev, next, temperature);
      return { logp: tf.pad(logp, pad) as tf.Tensor2D, entropy: tf.pad(entropy, pad) as tf.Tensor2D };
    });
  }

  startDecode(input: ForwardInput, maxNewTokens: number) {
    checkInput('policy.startDecode', input);
    return startDecodeSession(this.#params, this.#cfg, input, maxNewTokens);
  }

  trainableVariables(): tf.Variable[] {
    void this.#params;
    return this.#trainable ? Object.values(this.#vars) : [];
  }

  clone(options: { trainable?: boolean } = {}): TransformerPolicy {
    const trainable = options.trainable ?? true;
    const vars: Record<string, tf.Variable> = {};
    for (const [name, v] of Object.entries(this.#params)) vars[name] = tf.variable(v, trainable);
    return new Transformer(this.tokenizer, this.#cfg, vars, trainable);
  }

  getWeights(): WeightMap {
    const out: WeightMap = {};
    for (const [name, v] of Object.entries(this.#params)) {
      // A copy: some backends hand out their own storage from dataSync.
      out[name] = { shape: [...v.shape], values: Float32Array.from(v.dataSync()) };
    }
    return out;
  }

  setWeights(weights: WeightMap): void {
    const P = this.#params;
    const expected = Object.keys(P);
    const missing = expected.filter((n) => !(n in weights));
    const extra = Object.keys(weights).filter((n) => !(n in P));
    if (missing.length || extra.length) {
      throw new ShapeError(
        'policy.setWeights',
        `weight names differ from the model's (missing: ${missing.join(', ') || 'none'}; unknown: ${extra.join(', ') || 'none'})`,
      );
    }
    for (const name of expected) {
      const w = weights[name]!;
      const v = this.#vars[name]!;
      const size = v.shape.reduce((a, b) => a * b, 1);
      if (w.shape.join(',') !== v.shape.join(',') || w.values.length !== size) {
        throw new ShapeError(
          'policy.setWeights',
          `weight '${name}' has shape [${w.shape}] (${w.values.length} values); the model needs [${v.shape}]`,
        );
      }
    }
    for (const name of expected) {
      const w = weights[name]!;
      const v = this.#vars[name]!;
      // Copied, so later edits of the caller's array cannot reach the variable.
      tf.tidy(() => v.assign(tf.tensor(Float32Array.from(w.values), v.shape, 'float32')));
    }
  }

  config(): TransformerConfig & { type: 'transformer' } {
    return { type: 'transformer', ...this.#cfg };
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tf.dispose(Object.values(this.#vars));
  }
}

/**
 * A decoder-only, pre-norm causal transformer policy: token (+ learned position)
 * embeddings, `nLayers` blocks of multi-head causal self-attention and a GELU MLP, a final
 * LayerNorm and an untied output head. Initialisation is deterministic from `seed`.
 */
export function createTransformerPolicy(options: TransformerOptions & { tokenizer: Tokenizer }): TransformerPolicy {
  const { tokenizer, ...sizes } = options ?? ({} as never);
  if (!tokenizer || typeof tokenizer.encode !== 'function' || !(tokenizer.vocabSize > 0)) {
    throw new ShapeError('createTransformerPolicy', 'options.tokenizer must be a Tokenizer (see createCharTokenizer)');
  }
  // A saved config carries `type`; accept it so `createTransformerPolicy({ ...policy.config(), tokenizer })` works.
  const { type: _type, ...rest } = sizes as TransformerOptions & { type?: unknown };
  const cfg = parseOptions('policy:transformer', transformerOptionsSchema, rest);
  const vars: Record<string, tf.Variable> = {};
  for (const spec of paramSpecs(cfg, tokenizer.vocabSize)) {
    vars[spec.name] = tf.tidy(() => tf.variable(tf.tensor(initValues(spec, cfg.seed), spec.shape, 'float32'), true));
  }
  return new Transformer(tokenizer, cfg, vars, true);
}
