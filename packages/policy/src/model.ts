import * as tf from '@tensorflow/tfjs-core';
import { Rng, ShapeError } from '@rftkit/core';
import { attention } from '@rftkit/tensor';
import { dense, gelu, layerNorm, lookup, rotaryAngles, rotate } from './layers';
import type { TransformerConfig } from './options';

/** Named parameters of the model; names are stable and used in checkpoints. */
export type Params = Record<string, tf.Tensor>;

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Normal init std; 0 → zeros, 'ones' → ones (LayerNorm gains). */
  init: number | 'ones';
}

/** Parameter names, shapes and init, in checkpoint order. */
export function paramSpecs(cfg: TransformerConfig, vocabSize: number): ParamSpec[] {
  const d = cfg.dModel;
  const std = 0.02;
  // GPT-2: residual-branch outputs scaled by 1/sqrt(2·layers) so the stream's variance stays O(1).
  const residStd = std / Math.sqrt(2 * cfg.nLayers);
  const specs: ParamSpec[] = [{ name: 'tok_emb', shape: [vocabSize, d], init: std }];
  if (cfg.positions === 'learned') specs.push({ name: 'pos_emb', shape: [cfg.maxSeqLen, d], init: std });
  for (let i = 0; i < cfg.nLayers; i++) {
    const p = `blocks.${i}.`;
    specs.push(
      { name: `${p}ln1.gamma`, shape: [d], init: 'ones' },
      { name: `${p}ln1.beta`, shape: [d], init: 0 },
      // Separate q/k/v projections: splitting a fused [d, 3d] output is a strided slice,
      // which the cpu backend runs element by element.
      { name: `${p}attn.wq`, shape: [d, d], init: std },
      { name: `${p}attn.bq`, shape: [d], init: 0 },
      { name: `${p}attn.wk`, shape: [d, d], init: std },
      { name: `${p}attn.bk`, shape: [d], init: 0 },
      { name: `${p}attn.wv`, shape: [d, d], init: std },
      { name: `${p}attn.bv`, shape: [d], init: 0 },
      { name: `${p}attn.wo`, shape: [d, d], init: residStd },
      { name: `${p}attn.bo`, shape: [d], init: 0 },
      { name: `${p}ln2.gamma`, shape: [d], init: 'ones' },
      { name: `${p}ln2.beta`, shape: [d], init: 0 },
      { name: `${p}mlp.w1`, shape: [d, cfg.dFF], init: std },
      { name: `${p}mlp.b1`, shape: [cfg.dFF], init: 0 },
      { name: `${p}mlp.w2`, shape: [cfg.dFF, d], init: residStd },
      { name: `${p}mlp.b2`, shape: [d], init: 0 },
    );
  }
  specs.push(
    { name: 'ln_f.gamma', shape: [d], init: 'ones' },
    { name: 'ln_f.beta', shape: [d], init: 0 },
    { name: 'head.w', shape: [d, vocabSize], init: std },
  );
  return specs;
}

/** Host init values: each parameter has its own stream derived from (seed, name). */
export function initValues(spec: ParamSpec, seed: number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (spec.init === 'ones') return out.fill(1);
  if (spec.init === 0) return out;
  const rng = Rng.derive(seed, 'policy-init', spec.name);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * spec.init;
  return out;
}

/** Per-layer keys/values `[B, T, d]` (heads side by side; keys after rotary), from a prefill. */
export interface LayerKV {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
}

export interface Dims {
  d: number;
  heads: number;
  headDim: number;
}

export function dims(cfg: TransformerConfig): Dims {
  return { d: cfg.dModel, heads: cfg.nHeads, headDim: cfg.dModel / cfg.nHeads };
}

/** Rotary rotation of `x [B, T, d]` per head, with `cos`/`sin` broadcastable to `[B, T, H, dh/2]`. */
export function rotateHeads(x: tf.Tensor3D, rope: { cos: tf.Tensor; sin: tf.Tensor }, dm: Dims): tf.Tensor3D {
  const [B, T] = x.shape;
  return tf.reshape(rotate(tf.reshape(x, [B, T, dm.heads, dm.headDim]), rope.cos, rope.sin), [B, T, dm.d]);
}

/** Query, key and value projections `[N, d]` each of block `i`. */
export function qkv(P: Params, i: number, h: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] {
  const p = `blocks.${i}.attn.`;
  return [
    dense(h, P[`${p}wq`]!, P[`${p}bq`]!),
    dense(h, P[`${p}wk`]!, P[`${p}bk`]!),
    dense(h, P[`${p}wv`]!, P[`${p}bv`]!),
  ];
}

/** One block's MLP half (pre-norm residual). */
export function mlpResidual(x: tf.Tensor2D, P: Params, i: number): tf.Tensor2D {
  const p = `blocks.${i}.`;
  const h = layerNorm(x, P[`${p}ln2.gamma`]!, P[`${p}ln2.beta`]!) as tf.Tensor2D;
  const m = dense(gelu(dense(h, P[`${p}mlp.w1`]!, P[`${p}mlp.b1`]!)) as tf.Tensor2D, P[`${p}mlp.w2`]!, P[`${p}mlp.b2`]!);
  return tf.add(x, m);
}

/** Token (+ learned position) embeddings of flat ids/positions `[N]` → `[N, d]`. */
export function embed(P: Params, cfg: TransformerConfig, ids: tf.Tensor1D, positions: tf.Tensor1D): tf.Tensor2D {
  const x = lookup(P.tok_emb!, ids);
  return cfg.positions === 'learned' ? tf.add(x, lookup(P.pos_emb!, positions)) : x;
}

/** Final LayerNorm and output head: `[N, d]` → logits `[N, V]`. */
export function head(P: Params, x: tf.Tensor2D): tf.Tensor2D {
  return dense(layerNorm(x, P['ln_f.gamma']!, P['ln_f.beta']!) as tf.Tensor2D, P['head.w']!);
}

/**
 * Full causal forward over left-padded `tokens [B,T]` with `mask [B,T]`: logits `[B,T,V]`.
 * Position ids are `cumsum(mask) − 1` (0 on padding); padded keys are hidden. With
 * `collect`, each layer's keys/values are pushed to it (for a KV-cache prefill).
 */
export function forwardLogits(
  P: Params,
  cfg: TransformerConfig,
  tokens: tf.Tensor2D,
  mask: tf.Tensor2D,
  collect?: LayerKV[],
): tf.Tensor3D {
  const [B, T] = tokens.shape;
  if (T > cfg.maxSeqLen) throw new ShapeError('policy.forward', `sequence length ${T} exceeds maxSeqLen ${cfg.maxSeqLen}`);
  const dm = dims(cfg);
  const maskF = tf.cast(mask, 'float32') as tf.Tensor2D;
  const positions = tf.relu(tf.sub(tf.cumsum(maskF, 1), 1));
  const posInt = tf.cast(positions, 'int32');
  let x = embed(P, cfg, tf.reshape(tf.cast(tokens, 'int32'), [B * T]), tf.reshape(posInt, [B * T]));
  const rope = cfg.positions === 'rotary' ? rotaryAngles(tf.reshape(positions, [B, T, 1]), dm.headDim) : null;

  for (let i = 0; i < cfg.nLayers; i++) {
    const p = `blocks.${i}.`;
    const h = layerNorm(x, P[`${p}ln1.gamma`]!, P[`${p}ln1.beta`]!) as tf.Tensor2D;
    const [qf, kf, vf] = qkv(P, i, h);
    let q = tf.reshape(qf, [B, T, dm.d]) as tf.Tensor3D;
    let k = tf.reshape(kf, [B, T, dm.d]) as tf.Tensor3D;
    const v = tf.reshape(vf, [B, T, dm.d]) as tf.Tensor3D;
    if (rope) {
      q = rotateHeads(q, rope, dm);
      k = rotateHeads(k, rope, dm);
    }
    collect?.push({ k, v });
    // Causal, padded keys hidden; @rftkit/tensor's fused op (one SIMD kernel each way on wasm).
    const att = tf.reshape(attention(q, k, v, maskF, { heads: dm.heads, causal: true }), [B * T, dm.d]) as tf.Tensor2D;
    x = tf.add(x, dense(att, P[`${p}attn.wo`]!, P[`${p}attn.bo`]!));
    x = mlpResidual(x, P, i);
  }
  return tf.reshape(head(P, x), [B, T, -1]) as tf.Tensor3D;
}
