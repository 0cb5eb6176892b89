// The decoder forward pass shared by every family, a KV-cache decode session, and the
// chunked LM head behind tokenStats.
import * as tf from '@tensorflow/tfjs-core';
import { type DecodeSession, type ForwardInput, ShapeError, type TokenStats } from '@rftkit/core';
import { attention, headTokenLogProbs, KvCache } from '@rftkit/tensor';
import type { Arch } from './arch';
import { applyRope, inverseFrequencies, ropeAngles, type Weights } from './blocks';

/**
 * One layer's keys (after RoPE) and values, `[B, T, kvHeads·dh]` (kv heads not repeated);
 * `length`: only the first `length` of the T steps hold keys (a KV cache's buffer).
 */
interface LayerKV {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
  length?: number;
}

/**
 * Position ids of left-padded rows: `cumsum(mask) − 1` on real tokens (0 on padding, whose
 * keys are hidden anyway), so a padded row is computed exactly as the unpadded one.
 */
export function positionIds(mask: tf.Tensor2D): tf.Tensor2D {
  return tf.cast(tf.relu(tf.sub(tf.cumsum(tf.cast(mask, 'float32'), 1), 1)), 'int32') as tf.Tensor2D;
}

/** What every layer of one pass shares: RoPE angles, the key mask, the KV hook. */
interface LayerContext {
  rope: { cos: tf.Tensor; sin: tf.Tensor } | null;
  B: number;
  keyMask: tf.Tensor2D;
  kv: (i: number, k: tf.Tensor3D, v: tf.Tensor3D) => LayerKV;
  causal: boolean;
}

/** Transformer block `i` over flat rows `x [B·Tq, d]`: attention and MLP residual branches. */
function layer(arch: Arch, W: Weights, i: number, x: tf.Tensor2D, ctx: LayerContext): tf.Tensor2D {
  const { cfg } = arch;
  const { B, rope } = ctx;
  const N = x.shape[0];
  const Tq = N / B;
  const qDim = cfg.numHeads * cfg.headDim;
  let { q, k, v } = arch.qkv(W, i, x);
  if (rope) {
    q = applyRope(q, cfg.numHeads, rope);
    k = applyRope(k, cfg.numKvHeads, rope);
  }
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const all = ctx.kv(i, tf.reshape(k, [B, Tq, kvDim]), tf.reshape(v, [B, Tq, kvDim]));
  // Core's fused op (scale 1/√dh, as transformers); padded keys hidden by the mask. Grouped
  // kv heads are read in place, never repeated.
  const att = attention(tf.reshape(q, [B, Tq, qDim]), all.k, all.v, ctx.keyMask, {
    heads: cfg.numHeads,
    kvHeads: cfg.numKvHeads,
    causal: ctx.causal,
    keyLength: all.length,
  });
  const h: tf.Tensor2D = tf.add(x, arch.attnOut(W, i, tf.reshape(att, [N, qDim])));
  return tf.add(h, arch.mlp(W, i, h));
}

/** `model.layers.7.mlp…` / `transformer.h.7.attn…` → 7. */
const LAYER_INDEX = /(?:^|\.)(?:layers|h)\.(\d+)\./;

/**
 * Block `i` with activation recomputation: under a gradient tape only its input `x` is kept;
 * the backward pass runs the block again (taped) and differentiates it with `dy`. Weights of
 * the block that may need a gradient (trainable variables and computed tensors) are the
 * custom gradient's inputs; frozen variables are constants. The block is run on a view of
 * `W` that refuses any weight outside it, so nothing silently misses its gradient.
 */
function recomputedLayer(arch: Arch, W: Weights, i: number, x: tf.Tensor2D, ctx: LayerContext): tf.Tensor2D {
  const names = Object.keys(W).filter((n) => LAYER_INDEX.exec(n)?.[1] === String(i));
  const isConstant = (t: tf.Tensor) => t instanceof tf.Variable && !t.trainable;
  const inputNames = names.filter((n) => !isConstant(W[n]!));
  const constNames = names.filter((n) => isConstant(W[n]!));
  const ctxTensors = ctx.rope ? [ctx.keyMask, ctx.rope.cos, ctx.rope.sin] : [ctx.keyMask];
  const run = (xx: tf.Tensor, ws: tf.Tensor[], cs: tf.Tensor[]): tf.Tensor2D => {
    const local: Weights = {};
    inputNames.forEach((n, j) => {
      local[n] = ws[j]!;
    });
    for (const n of constNames) local[n] = W[n]!;
    const view = new Proxy(local, {
      get(target, key) {
        if (typeof key === 'string' && !(key in target)) throw new Error(`recompute: block ${i} reads '${key}', which is not one of its weights`);
        return target[key as string];
      },
    });
    const [keyMask, cos, sin] = cs as [tf.Tensor2D, tf.Tensor?, tf.Tensor?];
    const c: LayerContext = { ...ctx, keyMask, rope: cos && sin ? { cos, sin } : null };
    return layer(arch, view, i, xx as tf.Tensor2D, c);
  };
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xx, ...ws] = args as tf.Tensor[];
    save([xx!, ...ws, ...ctxTensors]);
    return {
      value: run(xx!, ws, ctxTensors),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0]!;
        const wsSaved = saved.slice(1, 1 + ws.length);
        const cs = saved.slice(1 + ws.length);
        return nestedGrads(() => tf.grads((...inputs: tf.Tensor[]) => run(inputs[0]!, inputs.slice(1), cs))([xs, ...wsSaved], dy));
      },
    };
  });
  return op(x, ...inputNames.map((n) => W[n]!)) as tf.Tensor2D;
}

/**
 * Runs a gradient computation inside another one's backward pass. tfjs' engine keeps one
 * tape: the inner `gradients` replaces it, then disposes its own saved tensors and clears
 * it, and the outer pass would find no tape to clean up (its saved tensors would leak). The
 * outer tape is put back afterwards.
 */
function nestedGrads<T>(f: () => T): T {
  const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
  const outer = state.activeTape;
  try {
    return f();
  } finally {
    state.activeTape = outer;
  }
}

/** Runs the layers over flat rows `x [B·Tq, d]` attending to `keys` of `[B, Tk]`; shared by prefill and step. */
function layers(
  arch: Arch,
  W: Weights,
  x: tf.Tensor2D,
  positions: tf.Tensor1D,
  B: number,
  keyMask: tf.Tensor2D,
  kv: (i: number, k: tf.Tensor3D, v: tf.Tensor3D) => LayerKV,
  causal: boolean,
  recompute = false,
): tf.Tensor2D {
  const { cfg } = arch;
  const rope = cfg.positionEmbedding === 'rope' ? ropeAngles(positions, inverseFrequencies(cfg)) : null;
  const ctx: LayerContext = { rope, B, keyMask, kv, causal };
  // Without a tape nothing reads a layer's intermediates once it is done: a tidy per layer
  // frees them, so a prefill or a scoring pass holds one layer's activations, not all of them
  // (≈130 MB per layer at 2 048 tokens of SmolLM2-135M).
  const untaped = !tapeRecording();
  for (let i = 0; i < cfg.numLayers; i++) {
    const input = x;
    if (recompute) x = recomputedLayer(arch, W, i, input, ctx);
    else x = untaped ? tf.tidy(() => layer(arch, W, i, input, ctx)) : layer(arch, W, i, input, ctx);
  }
  return arch.finalNorm(W, x);
}

/** Whether a gradient tape records kernels now (tf.grads / variableGrads / customGrad). */
function tapeRecording(): boolean {
  return ((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth ?? 0) > 0;
}

/**
 * Final hidden states `[B·T, d]` (after the last norm) of left-padded `tokens [B, T]`;
 * `recompute`: each block keeps only its input for the backward pass (not with `collect`).
 */
export function hiddenStates(arch: Arch, W: Weights, input: ForwardInput, collect?: LayerKV[], recompute = false): tf.Tensor2D {
  const [B, T] = input.tokens.shape;
  const mask = tf.cast(input.attentionMask, 'float32') as tf.Tensor2D;
  const positions = tf.reshape(positionIds(mask), [B * T]) as tf.Tensor1D;
  const x = arch.embed(W, tf.reshape(tf.cast(input.tokens, 'int32'), [B * T]), positions);
  return layers(arch, W, x, positions, B, mask, (_i, k, v) => {
    // Kept past the layer's tidy (an untaped pass); the decode session owns them.
    collect?.push({ k: tf.keep(k), v: tf.keep(v) });
    return { k, v };
  }, true, recompute && !collect);
}

/**
 * Default token rows of the LM head per chunk in tokenStats: `2²⁴ / vocab` (341 for a 49k
 * vocabulary, 110 for 152k), so one chunk's logits are ≤ 64 MB; the backward pass holds one
 * chunk's logits and their gradient at a time (see @rftkit/tensor's headTokenLogProbs).
 */
export function defaultHeadChunkTokens(vocabSize: number): number {
  return Math.max(1, Math.floor((1 << 24) / vocabSize));
}

/**
 * Log-probs and entropies at `temperature` of `tokens[t]` given the prefix, 0 at t = 0; the
 * LM head runs over `chunkTokens` token rows at a time, forward and backward, so `[B, T, V]`
 * logits never exist.
 */
export function headTokenStats(arch: Arch, W: Weights, input: ForwardInput, temperature: number, chunkTokens: number, recompute = false): TokenStats {
  const [B, T] = input.tokens.shape;
  if (T === 1) return { logp: tf.zeros([B, 1]) as tf.Tensor2D, entropy: tf.zeros([B, 1]) as tf.Tensor2D };
  const h = tf.reshape(hiddenStates(arch, W, input, undefined, recompute), [B, T, -1]);
  // Position t is scored by the state at t − 1.
  const prev = tf.reshape(tf.slice(h, [0, 0, 0], [B, T - 1, -1]), [B * (T - 1), -1]) as tf.Tensor2D;
  const next = tf.reshape(tf.slice(tf.cast(input.tokens, 'int32'), [0, 1], [B, T - 1]), [B * (T - 1)]) as tf.Tensor1D;
  const { logp, entropy } = headTokenLogProbs(prev, arch.headWeight(W), next, { temperature, chunkTokens });
  const pad: Array<[number, number]> = [
    [0, 0],
    [1, 0],
  ];
  const join = (x: tf.Tensor) => tf.pad(tf.reshape(x, [B, T - 1]), pad) as tf.Tensor2D;
  return { logp: join(logp), entropy: join(entropy) };
}

function tidyObj<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

/**
 * Prefills a KV cache with left-padded prompts and returns a session that feeds one token per
 * row per step; a step writes its key/value into each layer's cache (@rftkit/tensor's
 * KvCache: in place on wasm and cpu) and attends over all keys so far, the prompt's padding
 * hidden. `retain` drops finished rows from the caches.
 */
export function startHfDecode(arch: Arch, W: Weights, input: ForwardInput, maxNewTokens: number): { session: DecodeSession; logits: tf.Tensor2D } {
  const [B, promptLen] = input.tokens.shape;
  const capacity = promptLen + maxNewTokens;
  const init = tidyObj(() => {
    const collect: LayerKV[] = [];
    const h = tf.reshape(hiddenStates(arch, W, input, collect), [B, promptLen, -1]);
    const last = arch.head(W, tf.reshape(tf.slice(h, [0, promptLen - 1, 0], [B, 1, -1]), [B, -1]) as tf.Tensor2D);
    const maskF = tf.cast(input.attentionMask, 'float32');
    const tables = {
      // Position of the token fed at step s: the row's real length + s.
      positions: tf.add(tf.expandDims(tf.cast(tf.sum(maskF, 1), 'int32'), 0), tf.expandDims(tf.range(0, maxNewTokens, 1, 'int32'), 1)) as tf.Tensor2D,
      keyMask: tf.concat([maskF, tf.ones([B, maxNewTokens])], 1) as tf.Tensor2D,
    };
    return { last, collect, tables };
  });
  const kvDim = arch.cfg.numKvHeads * arch.cfg.headDim;
  let caches = init.collect.map((layerKv) => {
    const c = { k: new KvCache(B, capacity, kvDim), v: new KvCache(B, capacity, kvDim) };
    c.k.append(layerKv.k);
    c.v.append(layerKv.v);
    tf.dispose([layerKv.k, layerKv.v]);
    return c;
  });
  let { tables } = init;
  let rows = B;
  let step = 0;
  let disposed = false;
  const session: DecodeSession = {
    get batch() {
      return rows;
    },
    step(tokens: Int32Array): tf.Tensor2D {
      if (disposed) throw new ShapeError('DecodeSession.step', 'session was disposed');
      if (step >= maxNewTokens) throw new ShapeError('DecodeSession.step', `all ${maxNewTokens} cache slots are used (maxNewTokens)`);
      if (tokens.length !== rows) throw new ShapeError('DecodeSession.step', `expected ${rows} tokens, got ${tokens.length}`);
      const s = step;
      const logits = tf.tidy(() => {
        const pos = tf.reshape(tf.slice(tables.positions, [s, 0], [1, rows]), [rows]) as tf.Tensor1D;
        const x = arch.embed(W, tf.tensor1d(tokens, 'int32'), pos);
        // The mask spans the keys' tensor: the whole buffer in place (keys past
        // promptLen + s + 1 are not read), else the cache after this step's append.
        const width = caches[0]!.k.inPlace ? capacity : promptLen + s + 1;
        const keyMask = tf.slice(tables.keyMask, [0, 0], [rows, width]);
        const h = layers(arch, W, x, pos, rows, keyMask, (i, k, v) => {
          const c = caches[i]!;
          c.k.append(k);
          c.v.append(v);
          return { k: c.k.tensor, v: c.v.tensor, length: c.k.length };
        }, false);
        return arch.head(W, h);
      });
      step++;
      return logits;
    },
    retain(keep: readonly number[]) {
      if (disposed) throw new ShapeError('DecodeSession.retain', 'session was disposed');
      const bad = keep.findIndex((r, i) => !Number.isInteger(r) || r < 0 || r >= rows || (i > 0 && r <= keep[i - 1]!));
      if (bad >= 0) throw new ShapeError('DecodeSession.retain', `rows must be ascending indices below ${rows}; rows[${bad}] = ${keep[bad]}`);
      if (keep.length === 0) throw new ShapeError('DecodeSession.retain', 'keep at least one row (dispose the session instead)');
      for (const c of caches) {
        c.k.retain(keep);
        c.v.retain(keep);
      }
      const next = tidyObj(() => {
        const idx = tf.tensor1d(Array.from(keep), 'int32');
        return { positions: tf.gather(tables.positions, idx, 1) as tf.Tensor2D, keyMask: tf.gather(tables.keyMask, idx, 0) as tf.Tensor2D };
      });
      tf.dispose([tables.positions, tables.keyMask]);
      tables = next;
      rows = keep.length;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const c of caches) {
        c.k.dispose();
        c.v.dispose();
      }
      tf.dispose([tables.positions, tables.keyMask]);
      caches = [];
    },
  };
  return { session, logits: init.last };
}
