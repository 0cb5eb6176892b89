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
 * `hidden` and `weight`: the backward pass reuses the last chunk's logits, recomputes the
 * others' from the saved inputs, and accumulates `d hidden` (per chunk) and `d weight`
 * (summed over chunks; none for a frozen weight variable), so under a gradient tape the
 * memory is O(N·d + V·d + chunk·V), never O(N·V). With one chunk nothing is recomputed.
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
    let lastLogits: tf.Tensor2D | null = null;
    const rows = parts.map(([start, n], i) =>
      tf.tidy(() => {
        const logits = tf.matMul(tf.slice(hT, [start, 0], [n, d]), wT, false, true);
        // The last chunk's logits are kept for the backward pass, which starts with them.
        if (i === parts.length - 1) lastLogits = tf.keep(logits) as tf.Tensor2D;
        const s = tokenLogProbs(logits, tf.slice(tT, [start], [n]), temperature);
        return tf.stack([s.logp, s.entropy]);
      }),
    );
    // save() keeps its own references; outside a gradient tape it keeps nothing.
    (save as tf.GradSaveFunc)(lastLogits ? [hT, wT, tT, lastLogits] : [hT, wT, tT]);
    (lastLogits as tf.Tensor2D | null)?.dispose();
    const value = rows.length === 1 ? rows[0]! : tf.concat(rows, 1);
    if (rows.length > 1) tf.dispose(rows);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, ws, ts, last] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
        // A frozen head (LoRA's base) gets no gradient: the engine never reads one for a
        // variable that does not train, and d weight is vocab·d values.
        const frozen = weight instanceof tf.Variable && !weight.trainable;
        let dw: tf.Tensor2D | null = null;
        const dhs: tf.Tensor[] = new Array(parts.length);
        // Last chunk first (its logits were saved), then the others recomputed one at a time.
        for (let i = parts.length - 1; i >= 0; i--) {
          const [start, n] = parts[i]!;
          const [dhc, dwNext] = tf.tidy(() => {
            const hc = tf.slice(hs, [start, 0], [n, d]);
            const logits = i === parts.length - 1 ? last : tf.matMul(hc, ws, false, true);
            const g = tf.slice(dy, [0, start], [2, n]);
            const dlogits = tokenLogProbsGrad(logits, tf.slice(ts, [start], [n]), tf.reshape(tf.slice(g, [0, 0], [1, n]), [n]), tf.reshape(tf.slice(g, [1, 0], [1, n]), [n]), temperature);
            if (frozen) return [tf.matMul(dlogits, ws), tf.zeros([0, d])];
            const dwc = tf.matMul(dlogits, hc, true, false);
            return [tf.matMul(dlogits, ws), dw ? tf.add(dw, dwc) : dwc];
          });
          dw?.dispose();
          dw = dwNext as tf.Tensor2D;
          dhs[i] = dhc!;
        }
        const dh = dhs.length === 1 ? dhs[0]! : tf.concat(dhs, 0);
        if (dhs.length > 1) tf.dispose(dhs);
        return [dh, dw!, tf.zerosLike(ts)];
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
