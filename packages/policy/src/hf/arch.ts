// What a decoder family tells the shared forward pass: its parameters (HF names and
// shapes) and the per-layer pieces. One family per file (llama.ts, qwen2.ts, ...).
import type * as tf from '@tensorflow/tfjs-core';
import type { HfModelConfig } from '@rftkit/hf';
import type { Weights } from './blocks';

export interface HfParam {
  /** The Hugging Face tensor name (kept in getWeights/setWeights and exported files). */
  name: string;
  /** Shape as stored in the HF file. */
  shape: number[];
  /** An `nn.Linear` weight (`[out, in]`, used as the transposed matmul operand; see blocks.linear). */
  linear: boolean;
}

export interface Arch {
  readonly cfg: HfModelConfig;
  readonly params: HfParam[];
  /** Token (+ learned position) embeddings: ids/positions `[N]` → `[N, d]`. */
  embed(W: Weights, ids: tf.Tensor1D, positions: tf.Tensor1D): tf.Tensor2D;
  /** Pre-attention norm and projections of layer `i` (before RoPE): q `[N, H·dh]`, k/v `[N, Hkv·dh]`. */
  qkv(W: Weights, i: number, x: tf.Tensor2D): { q: tf.Tensor2D; k: tf.Tensor2D; v: tf.Tensor2D };
  /** Attention output projection of layer `i`. */
  attnOut(W: Weights, i: number, att: tf.Tensor2D): tf.Tensor2D;
  /** The MLP residual branch of layer `i` (its pre-norm included). */
  mlp(W: Weights, i: number, x: tf.Tensor2D): tf.Tensor2D;
  /** Final norm: `[N, d]` → `[N, d]`. */
  finalNorm(W: Weights, x: tf.Tensor2D): tf.Tensor2D;
  /** LM head (tied or not): `[N, d]` → logits `[N, V]`. */
  head(W: Weights, h: tf.Tensor2D): tf.Tensor2D;
  /** The head's `[V, d]` weight (`head(h) = h·Wᵀ`): the tied embedding or `lm_head.weight`. */
  headWeight(W: Weights): tf.Tensor2D;
  /** Throws a clear error when `length` tokens are beyond what the family computes exactly. */
  checkLength(length: number, where: string): void;
}
