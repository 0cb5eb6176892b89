// Small building blocks shared by the Hugging Face decoder families (see modeling_llama.py,
// modeling_qwen3.py, modeling_gpt2.py in transformers for the reference definitions).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@rftkit/core';
import { embeddingGrad, gelu, layerNorm, rmsNorm as rmsNormOp, siluMul } from '@rftkit/tensor';
import type { HfModelConfig, Llama3RopeScaling } from '@rftkit/hf';
import { dense } from '../layers';
import { withAdapter } from './lora';

/** Weights by Hugging Face name, in the HF layout. */
export type Weights = Record<string, tf.Tensor>;

/**
 * `x [N, in]` through the HF `nn.Linear` `name` (`.weight` `[out, in]`, optional `.bias`):
 * a matmul with the weight as transposed operand, then the bias. Measured on wasm (512×256
 * by 256×768, forward and backward) this is as fast as or faster than @rftkit/tensor's fused `dense`
 * on a pre-transposed copy (the SIMD matmul transposes its operand in 4×4 register blocks),
 * so weights stay in the HF layout: no transposes at load, export or getWeights.
 */
export function linear(W: Weights, name: string, x: tf.Tensor2D, bias: boolean): tf.Tensor2D {
  const y = withAdapter(W, name, x, tf.matMul(x, W[`${name}.weight`] as tf.Tensor2D, false, true));
  return bias ? tf.add(y, W[`${name}.bias`]!) : y;
}

/**
 * Embedding rows of `ids [N]` in `table [V, d]`: a gather forward; the backward pass is
 * @rftkit/tensor's embeddingGrad, a scatter-add of `dy`'s rows (wasm has no
 * UnsortedSegmentSum kernel, and the one-hot product form costs N·V·d multiply-adds).
 */
export function embedRows(table: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D {
  const V = table.shape[0]!;
  const op = tf.customGrad((t, i, save) => {
    (save as tf.GradSaveFunc)([i as tf.Tensor]);
    return {
      value: tf.gather(t as tf.Tensor, tf.cast(i as tf.Tensor, 'int32')),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const idx = saved[0]! as tf.Tensor1D;
        // A frozen table (LoRA's base) gets no gradient: the engine never reads one for a
        // variable that does not train, and it is vocab·d values.
        const frozen = table instanceof tf.Variable && !table.trainable;
        return [frozen ? tf.zeros([0, table.shape[1]!]) : embeddingGrad(dy as tf.Tensor2D, idx, V), tf.zerosLike(idx)];
      },
    };
  });
  return op(table, ids) as tf.Tensor2D;
}

/** `x [N, in]` through GPT-2's `Conv1D` `name` (`.weight` `[in, out]`, `.bias`): @rftkit/tensor's fused dense. */
export function conv1d(W: Weights, name: string, x: tf.Tensor2D): tf.Tensor2D {
  return withAdapter(W, name, x, dense(x, W[`${name}.weight`]!, W[`${name}.bias`]!));
}

/**
 * RMSNorm over the last axis, in float32: `w · x / sqrt(mean(x²) + eps)` (LlamaRMSNorm).
 * @rftkit/tensor's op: the backward pass keeps only `x` and `w`.
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  return rmsNormOp(x, weight, eps);
}

/** LayerNorm with gain and bias (GPT-2): @rftkit/tensor's fused op at eps 1e-5. */
export function layerNormEps(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return layerNorm(x, gamma, beta, eps);
}

/** The MLP activation transformers names `act` (ACT2FN). */
export function activation(act: string): (x: tf.Tensor) => tf.Tensor {
  switch (act) {
    case 'silu':
    case 'swish':
      return (x) => tf.mul(x, tf.sigmoid(x));
    // gelu_new, gelu_pytorch_tanh and gelu_fast are the same tanh approximation.
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return gelu;
    case 'gelu':
      return (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    case 'relu':
      return tf.relu;
    default:
      throw new ConfigError('config.json', [{ path: 'hidden_act', message: `'${act}' is not supported (silu, gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu)` }]);
  }
}

/** SwiGLU MLP (llama/qwen/mistral): `down(act(gate(x)) · up(x))`. */
export function gatedMlp(W: Weights, prefix: string, x: tf.Tensor2D, cfg: HfModelConfig): tf.Tensor2D {
  const gate = linear(W, `${prefix}.gate_proj`, x, cfg.mlpBias);
  const up = linear(W, `${prefix}.up_proj`, x, cfg.mlpBias);
  // silu (every llama/qwen/mistral checkpoint): one op whose backward keeps only gate and up.
  const silu = cfg.hiddenAct === 'silu' || cfg.hiddenAct === 'swish';
  const product = silu ? siluMul(gate, up) : tf.mul(activation(cfg.hiddenAct)(gate), up);
  return linear(W, `${prefix}.down_proj`, product as tf.Tensor2D, cfg.mlpBias);
}

/** llama3 rescaling of the inverse frequencies (transformers' `_compute_llama3_parameters`). */
function llama3Scale(invFreq: Float64Array, s: Llama3RopeScaling): Float64Array {
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  return invFreq.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f; // high frequencies: kept
    if (wavelen > lowWavelen) return f / s.factor; // low frequencies: scaled down
    const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/** Inverse rotary frequencies `[headDim/2]`: `theta^(−2i/headDim)`, llama3-rescaled when configured. */
export function inverseFrequencies(cfg: HfModelConfig): Float32Array {
  const half = cfg.headDim / 2;
  const theta = cfg.ropeTheta ?? 10000;
  // As torch: the exponent and the power in float32, then the reciprocal.
  let inv: Float64Array = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.fround(Math.fround(theta) ** Math.fround((2 * i) / cfg.headDim));
  if (cfg.ropeScaling) inv = llama3Scale(inv, cfg.ropeScaling);
  return Float32Array.from(inv);
}

/** `cos`/`sin` `[N, 1, headDim/2]` of positions `[N]` (float32 products, as torch). */
export function ropeAngles(positions: tf.Tensor1D, invFreq: Float32Array): { cos: tf.Tensor; sin: tf.Tensor } {
  const angles = tf.mul(tf.reshape(tf.cast(positions, 'float32'), [-1, 1, 1]), tf.tensor1d(invFreq));
  return { cos: tf.cos(angles), sin: tf.sin(angles) };
}

/** Rotate-half RoPE of `x [N, heads·dh]` by angles with `cos`/`sin` `[N, 1, dh/2]`. */
function rotateHalf(x: tf.Tensor, heads: number, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const [N, D] = x.shape as [number, number];
  const [x1, x2] = tf.split(tf.reshape(x, [N, heads, D / heads]), 2, -1) as [tf.Tensor, tf.Tensor];
  const out = tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], -1);
  return tf.reshape(out, [N, D]);
}

/**
 * Rotate-half RoPE of `x [N, heads·dh]` (heads side by side), `cos`/`sin` `[N, 1, dh/2]`.
 * A rotation, so its gradient is the rotation back (sin negated): the backward pass keeps
 * only the angles, not the halves of `x` that autodiff of the products would.
 */
export function applyRope(x: tf.Tensor2D, heads: number, rope: { cos: tf.Tensor; sin: tf.Tensor }): tf.Tensor2D {
  const { cos, sin } = rope;
  if (!tf.engine().isTapeOn()) return rotateHalf(x, heads, cos, sin) as tf.Tensor2D;
  const op = tf.customGrad((xs, c, s, save) => {
    (save as tf.GradSaveFunc)([c as tf.Tensor, s as tf.Tensor]);
    return {
      value: tf.tidy(() => rotateHalf(xs as tf.Tensor, heads, c as tf.Tensor, s as tf.Tensor)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [cs, sn] = saved as [tf.Tensor, tf.Tensor];
        // The angles come from positions: no gradient flows into them.
        return [tf.tidy(() => rotateHalf(dy, heads, cs, tf.neg(sn))), tf.zerosLike(cs), tf.zerosLike(sn)];
      },
    };
  });
  return op(x, cos, sin) as tf.Tensor2D;
}
