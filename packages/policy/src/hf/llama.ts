// Llama (LlamaForCausalLM): RMSNorm, RoPE (plain or llama3-scaled), GQA attention, SwiGLU
// MLP, tied or untied LM head. qwen2, qwen3 and mistral are this decoder with small changes.
import * as tf from '@tensorflow/tfjs-core';
import type { HfModelConfig } from '@rftkit/hf';
import type { Arch, HfParam } from './arch';
import { embedRows, gatedMlp, linear, rmsNorm } from './blocks';

export interface RopeDecoderOptions {
  /** Per-head RMSNorm of q and k before RoPE (qwen3). */
  qkNorm?: boolean;
}

export function ropeDecoderParams(cfg: HfModelConfig, options: RopeDecoderOptions = {}): HfParam[] {
  const d = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const ff = cfg.intermediateSize;
  const ps: HfParam[] = [{ name: 'model.embed_tokens.weight', shape: [cfg.vocabSize, d], linear: false }];
  const lin = (name: string, out: number, inp: number, bias: boolean) => {
    ps.push({ name: `${name}.weight`, shape: [out, inp], linear: true });
    if (bias) ps.push({ name: `${name}.bias`, shape: [out], linear: false });
  };
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    ps.push({ name: `${p}.input_layernorm.weight`, shape: [d], linear: false });
    lin(`${p}.self_attn.q_proj`, qDim, d, cfg.attentionBias);
    lin(`${p}.self_attn.k_proj`, kvDim, d, cfg.attentionBias);
    lin(`${p}.self_attn.v_proj`, kvDim, d, cfg.attentionBias);
    if (options.qkNorm) {
      ps.push({ name: `${p}.self_attn.q_norm.weight`, shape: [cfg.headDim], linear: false });
      ps.push({ name: `${p}.self_attn.k_norm.weight`, shape: [cfg.headDim], linear: false });
    }
    lin(`${p}.self_attn.o_proj`, d, qDim, cfg.attentionOutputBias);
    ps.push({ name: `${p}.post_attention_layernorm.weight`, shape: [d], linear: false });
    lin(`${p}.mlp.gate_proj`, ff, d, cfg.mlpBias);
    lin(`${p}.mlp.up_proj`, ff, d, cfg.mlpBias);
    lin(`${p}.mlp.down_proj`, d, ff, cfg.mlpBias);
  }
  ps.push({ name: 'model.norm.weight', shape: [d], linear: false });
  if (!cfg.tieWordEmbeddings) ps.push({ name: 'lm_head.weight', shape: [cfg.vocabSize, d], linear: true });
  return ps;
}

/** RMSNorm of each head of `x [N, heads·dh]` with one `[dh]` weight (qwen3's q_norm/k_norm). */
function headNorm(x: tf.Tensor2D, heads: number, weight: tf.Tensor, eps: number): tf.Tensor2D {
  const [N, D] = x.shape;
  return tf.reshape(rmsNorm(tf.reshape(x, [N, heads, D / heads]), weight, eps), [N, D]);
}

/** The shared RoPE decoder; family files pass their differences. */
export function ropeDecoder(cfg: HfModelConfig, options: RopeDecoderOptions = {}): Arch {
  const eps = cfg.normEps;
  return {
    cfg,
    params: ropeDecoderParams(cfg, options),
    embed: (W, ids) => embedRows(W['model.embed_tokens.weight']!, ids),
    qkv(W, i, x) {
      const p = `model.layers.${i}`;
      const h = rmsNorm(x, W[`${p}.input_layernorm.weight`]!, eps) as tf.Tensor2D;
      let q = linear(W, `${p}.self_attn.q_proj`, h, cfg.attentionBias);
      let k = linear(W, `${p}.self_attn.k_proj`, h, cfg.attentionBias);
      const v = linear(W, `${p}.self_attn.v_proj`, h, cfg.attentionBias);
      if (options.qkNorm) {
        q = headNorm(q, cfg.numHeads, W[`${p}.self_attn.q_norm.weight`]!, eps);
        k = headNorm(k, cfg.numKvHeads, W[`${p}.self_attn.k_norm.weight`]!, eps);
      }
      return { q, k, v };
    },
    attnOut: (W, i, att) => linear(W, `model.layers.${i}.self_attn.o_proj`, att, cfg.attentionOutputBias),
    mlp(W, i, x) {
      const p = `model.layers.${i}`;
      return gatedMlp(W, `${p}.mlp`, rmsNorm(x, W[`${p}.post_attention_layernorm.weight`]!, eps) as tf.Tensor2D, cfg);
    },
    finalNorm: (W, x) => rmsNorm(x, W['model.norm.weight']!, eps) as tf.Tensor2D,
    head: (W, h) =>
      cfg.tieWordEmbeddings ? tf.matMul(h, W['model.embed_tokens.weight']!, false, true) : linear(W, 'lm_head', h, false),
    headWeight: (W) => W[cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'] as tf.Tensor2D,
    checkLength() {},
  };
}

export function llamaArch(cfg: HfModelConfig): Arch {
  return ropeDecoder(cfg);
}
