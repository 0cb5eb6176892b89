// Token log-probs and entropies through the LM head, a chunk of token rows at a time, forward
// and backward: `[N, V]` logits never exist, only `[chunk, V]` (V is 49k–152k in real models).
import * as tf from '@tensorflow/tfjs-core';
import { tokenLogProbs, tokenLogProbsGrad } from './token-log-probs';

export interface HeadTokenLogProbsOptions {
  /** Softmax temperature (> 0). */
  temperature?: number;
  /** Token rows whose logits exist at once (≥ 1); results do not depend on it. */
  chunkTokens: number;
}

function chunks(N: number, chunk: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let start = 0; start < N; start += chunk) out.push([start, Math.min(chunk, N - start)]);
  return out;
}

/**
 * Per row of `hidden [N, d]`: log p(`targets[n]`) and the entropy of softmax(hidden·Wᵀ / T),
 * with `weight [V, d]` the LM head (the `nn.Linear`/tied-embedding layout). Differentiable in
 * `hidden` and `weight`: the backward pass recomputes each chunk's logits from the saved
 * inputs and accumulates `d hidden` (per chunk) and `d weight` (summed over chunks), so under
 * a gradient tape the memory is O(N·d + V·d + chunk·V), never O(N·V).
 */
export function headTokenLogProbs(
  hidden: tf.Tensor2D,
  weight: tf.Tensor2D,
  targets: tf.Tensor1D,
  options: HeadTokenLogProbsOptions,
): { logp: tf.Tensor1D; entropy: tf.Tensor1D } {
  const temperature = options.temperature ?? 1;
  const chunk = options.chunkTokens;
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`headTokenLogProbs: chunkTokens must be an integer ≥ 1, got ${chunk}`);
  const [N, d] = hidden.shape;
  if (weight.rank !== 2 || weight.shape[1] !== d) throw new Error(`headTokenLogProbs: weight must be [vocab, ${d}], got [${weight.shape}]`);
  if (targets.rank !== 1 || targets.shape[0] !== N) throw new Error(`headTokenLogProbs: targets must be [${N}], got [${targets.shape}]`);
  const parts = chunks(N, chunk);

  // One output [2, N] (logp; entropy): customGrad takes a single tensor.
  const op = tf.customGrad((h, w, t, save) => {
    const [hT, wT, tT] = [h as tf.Tensor2D, w as tf.Tensor2D, t as tf.Tensor1D];
    (save as tf.GradSaveFunc)([hT, wT, tT]);
    const rows = parts.map(([start, n]) =>
      tf.tidy(() => {
        const logits = tf.matMul(tf.slice(hT, [start, 0], [n, d]), wT, false, true);
        const s = tokenLogProbs(logits, tf.slice(tT, [start], [n]), temperature);
        return tf.stack([s.logp, s.entropy]);
      }),
    );
    const value = rows.length === 1 ? rows[0]! : tf.concat(rows, 1);
    if (rows.length > 1) tf.dispose(rows);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, ws, ts] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        let dw: tf.Tensor2D = tf.zerosLike(ws);
        const dhs: tf.Tensor[] = [];
        for (const [start, n] of parts) {
          const [dhc, dwNext] = tf.tidy(() => {
            const hc = tf.slice(hs, [start, 0], [n, d]);
            const logits = tf.matMul(hc, ws, false, true);
            const g = tf.slice(dy, [0, start], [2, n]);
            const dlogits = tokenLogProbsGrad(logits, tf.slice(ts, [start], [n]), tf.reshape(tf.slice(g, [0, 0], [1, n]), [n]), tf.reshape(tf.slice(g, [1, 0], [1, n]), [n]), temperature);
            return [tf.matMul(dlogits, ws), tf.add(dw, tf.matMul(dlogits, hc, true, false))];
          });
          dw.dispose();
          dw = dwNext as tf.Tensor2D;
          dhs.push(dhc!);
        }
        const dh = dhs.length === 1 ? dhs[0]! : tf.concat(dhs, 0);
        if (dhs.length > 1) tf.dispose(dhs);
        return [dh, dw, tf.zerosLike(ts)];
      },
    };
  });
  return tf.tidy(() => {
    const [logp, entropy] = tf.unstack(op(hidden, weight, tf.cast(targets, 'int32'))) as [tf.Tensor1D, tf.Tensor1D];
    return { logp, entropy };
  });
}

/** The unchunked form (the whole `[N, V]` logits at once): the reference the tests compare with. */
export function headTokenLogProbsDense(hidden: tf.Tensor2D, weight: tf.Tensor2D, targets: tf.Tensor1D, temperature = 1): { logp: tf.Tensor1D; entropy: tf.Tensor1D } {
  return tf.tidy(() => {
    const s = tokenLogProbs(tf.matMul(hidden, weight, false, true), tf.cast(targets, 'int32'), temperature);
    return { logp: s.logp as tf.Tensor1D, entropy: s.entropy as tf.Tensor1D };
  });
}
