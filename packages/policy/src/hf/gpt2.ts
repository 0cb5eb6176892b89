// GPT-2 (GPT2LMHeadModel): learned positions, pre-LayerNorm blocks, a fused q/k/v
// projection, GELU (tanh approximation) MLP, LM head tied to the token embeddings. Its
// Conv1D weights are stored `[in, out]` (@rftkit/tensor's fused dense); an untied lm_head is an nn.Linear.
import * as tf from '@tensorflow/tfjs-core';
import type { HfModelConfig } from '@rftkit/hf';
import type { Arch, HfParam } from './arch';
import { activation, conv1d, embedRows, layerNormEps, linear } from './blocks';

export function gpt2Arch(cfg: HfModelConfig): Arch {
  const d = cfg.hiddenSize;
  const ff = cfg.intermediateSize;
  const eps = cfg.normEps;
  const params: HfParam[] = [
    { name: 'transformer.wte.weight', shape: [cfg.vocabSize, d], linear: false },
    { name: 'transformer.wpe.weight', shape: [cfg.maxPositionEmbeddings, d], linear: false },
  ];
  const add = (name: string, shape: number[]) => params.push({ name, shape, linear: false });
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    add(`${p}.ln_1.weight`, [d]);
    add(`${p}.ln_1.bias`, [d]);
    add(`${p}.attn.c_attn.weight`, [d, 3 * d]);
    add(`${p}.attn.c_attn.bias`, [3 * d]);
    add(`${p}.attn.c_proj.weight`, [d, d]);
    add(`${p}.attn.c_proj.bias`, [d]);
    add(`${p}.ln_2.weight`, [d]);
    add(`${p}.ln_2.bias`, [d]);
    add(`${p}.mlp.c_fc.weight`, [d, ff]);
    add(`${p}.mlp.c_fc.bias`, [ff]);
    add(`${p}.mlp.c_proj.weight`, [ff, d]);
    add(`${p}.mlp.c_proj.bias`, [d]);
  }
  add('transformer.ln_f.weight', [d]);
  add('transformer.ln_f.bias', [d]);
  if (!cfg.tieWordEmbeddings) params.push({ name: 'lm_head.weight', shape: [cfg.vocabSize, d], linear: true });
  const act = activation(cfg.hiddenAct);
  const ln = (W: Record<string, tf.Tensor>, name: string, x: tf.Tensor2D) =>
    layerNormEps(x, W[`${name}.weight`]!, W[`${name}.bias`]!, eps) as tf.Tensor2D;
  return {
    cfg,
    params,
    embed: (W, ids, positions) => tf.add(embedRows(W['transformer.wte.weight']!, ids), embedRows(W['transformer.wpe.weight']!, positions)),
    qkv(W, i, x) {
      const p = `transformer.h.${i}`;
      const qkv = conv1d(W, `${p}.attn.c_attn`, ln(W, `${p}.ln_1`, x));
      const [q, k, v] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      return { q, k, v };
    },
    attnOut: (W, i, att) => conv1d(W, `transformer.h.${i}.attn.c_proj`, att),
    mlp(W, i, x) {
      const p = `transformer.h.${i}`;
      const h = act(conv1d(W, `${p}.mlp.c_fc`, ln(W, `${p}.ln_2`, x))) as tf.Tensor2D;
      return conv1d(W, `${p}.mlp.c_proj`, h);
    },
    finalNorm: (W, x) => ln(W, 'transformer.ln_f', x),
    head: (W, h) =>
      cfg.tieWordEmbeddings ? tf.matMul(h, W['transformer.wte.weight']!, false, true) : linear(W, 'lm_head', h, false),
    headWeight: (W) => W[cfg.tieWordEmbeddings ? 'transformer.wte.weight' : 'lm_head.weight'] as tf.Tensor2D,
    checkLength() {},
  };
}
