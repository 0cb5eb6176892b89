import * as tf from '@tensorflow/tfjs-core';
import { type DecodeSession, type ForwardInput, ShapeError } from '@rftkit/core';
import { attention } from '@rftkit/tensor';
import { dense, layerNorm, rotaryAngles } from './layers';
import { dims, embed, forwardLogits, head, type LayerKV, mlpResidual, type Params, qkv, rotateHeads } from './model';
import type { TransformerConfig } from './options';

/** `tf.tidy` for a structured result (tidy keeps every tensor found in it). */
function tidyObj<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

/** Device-side tables built once per session, so a step uploads only its `[B]` token ids. */
interface Tables {
  /** `[maxNew, B]` int32 position id of the token fed at step s. */
  positions: tf.Tensor2D;
  /** `[B, promptLen + maxNew]` key visibility: 1 on real keys, 0 on prompt padding. */
  keyMask: tf.Tensor2D;
}

/**
 * The distinct rows of a prompt batch (tokens and mask alike) and, for each row, the index of
 * its distinct row; undefined when no row repeats another.
 */
function distinctRows(input: ForwardInput): { distinct: tf.Tensor1D; source: tf.Tensor1D } | undefined {
  const [B, L] = input.tokens.shape;
  const tokens = input.tokens.dataSync();
  const mask = input.attentionMask.dataSync();
  const index = new Map<string, number>();
  const distinct: number[] = [];
  const source = new Int32Array(B);
  for (let r = 0; r < B; r++) {
    const key = `${Array.prototype.join.call(tokens.subarray(r * L, (r + 1) * L), ',')}|${Array.prototype.join.call(mask.subarray(r * L, (r + 1) * L), ',')}`;
    let at = index.get(key);
    if (at === undefined) {
      at = distinct.length;
      index.set(key, at);
      distinct.push(r);
    }
    source[r] = at;
  }
  if (distinct.length === B) return undefined;
  return { distinct: tf.tensor1d(distinct, 'int32'), source: tf.tensor1d(source, 'int32') };
}

/**
 * Prefills a KV cache with the prompt and returns a session that feeds one token per row
 * per step. Rows repeating a prompt are prefilled once (see `distinctRows`). A step appends its key/value to the cache with one concat along time (a plain
 * copy), and attends over the `promptLen + step + 1` keys written so far. Writing into a
 * preallocated cache with `k ⊗ onehot(slot)` costs a broadcast multiply and an add over
 * the whole cache per layer, which on wasm takes several times longer than the copy.
 */
export function startDecodeSession(
  P: Params,
  cfg: TransformerConfig,
  input: ForwardInput,
  maxNewTokens: number,
): { session: DecodeSession; logits: tf.Tensor2D } {
  const [B, promptLen] = input.tokens.shape;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
    throw new ShapeError('policy.startDecode', `maxNewTokens must be an integer ≥ 1, got ${maxNewTokens}`);
  }
  if (promptLen + maxNewTokens > cfg.maxSeqLen) {
    throw new ShapeError(
      'policy.startDecode',
      `prompt length ${promptLen} + maxNewTokens ${maxNewTokens} exceeds maxSeqLen ${cfg.maxSeqLen}`,
    );
  }
  const dm = dims(cfg);

  const shared = distinctRows(input);
  const init = tidyObj(() => {
    const collect: LayerKV[] = [];
    // Rows that repeat a prompt (the samples of a group) share one prefill: the distinct
    // rows run forward, then every row takes its copy of the cache and the last logits.
    // Each row's numbers are the same either way (every kernel computes rows independently).
    const tokens = shared ? tf.gather(input.tokens, shared.distinct) : input.tokens;
    const mask = shared ? tf.gather(input.attentionMask, shared.distinct) : input.attentionMask;
    const logits = forwardLogits(P, cfg, tokens as tf.Tensor2D, mask as tf.Tensor2D, collect);
    const rows = logits.shape[0];
    let last = tf.reshape(tf.slice(logits, [0, promptLen - 1, 0], [rows, 1, -1]), [rows, -1]) as tf.Tensor2D;
    let caches = collect.map(({ k, v }) => ({ k, v }));
    if (shared) {
      // Copies rows as a one-hot product (exact: 1·x + 0·y = x), far faster than wasm's
      // gather; one distinct row is tiled (tf.oneHot needs a depth of 2 or more).
      const pick = rows > 1 ? (tf.cast(tf.oneHot(shared.source, rows), 'float32') as tf.Tensor2D) : undefined;
      const copyRows = <T extends tf.Tensor>(x: T): T => {
        const flat = tf.reshape(x, [rows, -1]) as tf.Tensor2D;
        const copied = pick ? tf.matMul(pick, flat) : tf.tile(flat, [B, 1]);
        return tf.reshape(copied, [B, ...x.shape.slice(1)]) as T;
      };
      last = copyRows(last);
      caches = caches.map(({ k, v }) => ({ k: copyRows(k), v: copyRows(v) }));
    }
    const maskF = tf.cast(input.attentionMask, 'float32');
    const base = tf.cast(tf.sum(maskF, 1), 'int32');
    const keyValid = tf.concat([maskF, tf.ones([B, maxNewTokens])], 1);
    const tables: Tables = {
      positions: tf.add(tf.expandDims(base, 0), tf.expandDims(tf.range(0, maxNewTokens, 1, 'int32'), 1)),
      keyMask: keyValid as tf.Tensor2D,
    };
    return { last, caches, tables };
  });
  if (shared) tf.dispose([shared.distinct, shared.source]);

  let caches: LayerKV[] = init.caches;
  const tables = init.tables;
  let step = 0;
  let disposed = false;

  const session: DecodeSession = {
    batch: B,
    step(tokens: Int32Array): tf.Tensor2D {
      if (disposed) throw new ShapeError('DecodeSession.step', 'session was disposed');
      if (step >= maxNewTokens) {
        throw new ShapeError('DecodeSession.step', `all ${maxNewTokens} cache slots are used (maxNewTokens)`);
      }
      if (tokens.length !== B) throw new ShapeError('DecodeSession.step', `expected ${B} tokens, got ${tokens.length}`);
      const s = step;
      const out = tidyObj(() => {
        const ids = tf.tensor1d(tokens, 'int32');
        const pos = tf.reshape(tf.slice(tables.positions, [s, 0], [1, B]), [B]) as tf.Tensor1D;
        let x = embed(P, cfg, ids, pos);
        // Keys written so far: the prompt's and one per step, this one included.
        const keyMask = tf.slice(tables.keyMask, [0, 0], [B, promptLen + s + 1]);
        const rope = cfg.positions === 'rotary' ? rotaryAngles(tf.reshape(pos, [B, 1, 1]), dm.headDim) : null;
        const next: LayerKV[] = [];
        for (let i = 0; i < cfg.nLayers; i++) {
          const p = `blocks.${i}.`;
          const h = layerNorm(x, P[`${p}ln1.gamma`]!, P[`${p}ln1.beta`]!) as tf.Tensor2D;
          const [qf, kf, vf] = qkv(P, i, h);
          let q = tf.reshape(qf, [B, 1, dm.d]) as tf.Tensor3D;
          let k = tf.reshape(kf, [B, 1, dm.d]) as tf.Tensor3D;
          if (rope) {
            q = rotateHeads(q, rope, dm);
            k = rotateHeads(k, rope, dm);
          }
          const cache = caches[i]!;
          const kc = tf.concat([cache.k, k], 1) as tf.Tensor3D;
          const vc = tf.concat([cache.v, tf.reshape(vf, [B, 1, dm.d])], 1) as tf.Tensor3D;
          next.push({ k: kc, v: vc });
          const att = tf.reshape(attention(q, kc, vc, keyMask, { heads: dm.heads, causal: false }), [B, dm.d]) as tf.Tensor2D;
          x = tf.add(x, dense(att, P[`${p}attn.wo`]!, P[`${p}attn.bo`]!));
          x = mlpResidual(x, P, i);
        }
        return { logits: head(P, x), next };
      });
      for (const c of caches) tf.dispose([c.k, c.v]);
      caches = out.next;
      step++;
      return out.logits;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const c of caches) tf.dispose([c.k, c.v]);
      tf.dispose([tables.positions, tables.keyMask]);
      caches = [];
    },
  };
  return { session, logits: init.last };
}
