import * as tf from '@tensorflow/tfjs-core';
import { type AttentionDims, attentionBackward, attentionForward } from './js-attention';
import { runSimd, type SimdKernels, simdKernels, simdThreads } from './simd';
import { isWasmBackend, tensorData, type WasmBackend } from './wasm-internals';

/**
 * Fused kernels written in JavaScript over the backend's own float32 buffers (the wasm
 * heap, or the cpu backend's typed arrays). Each replaces a chain of 6–30 small tfjs
 * kernels whose per-launch cost (≈15–20 µs) dominates at rftkit's model sizes; the work
 * itself is a few passes over memory. Registered under new kernel names, so tfjs' own
 * kernels are untouched; ops fall back to the composite form on other backends.
 */

export const LAYER_NORM = 'RftLayerNorm';
export const LAYER_NORM_GRAD = 'RftLayerNormGrad';
export const GELU = 'RftGelu';
export const GELU_GRAD = 'RftGeluGrad';
export const ADAM_UPDATE = 'RftAdamUpdate';
export const TOKEN_LOGP = 'RftTokenLogp';
export const SUM_OF_SQUARES = 'RftSumOfSquares';
export const TOKEN_LOGP_GRAD = 'RftTokenLogpGrad';
export const ATTENTION = 'RftAttention';
export const ATTENTION_GRAD = 'RftAttentionGrad';
export const EMBEDDING_GRAD = 'RftEmbeddingGrad';

/** Inputs arrive as Float32Array views, int32 inputs as Int32Array (typed loosely here). */
type Compute = (ins: Float32Array[], outs: Float32Array[]) => void;

interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

function isCpuBackend(b: unknown): b is CpuBackendLike {
  const c = b as Partial<CpuBackendLike> | undefined;
  return typeof c?.makeTensorInfo === 'function' && typeof c.data?.get === 'function';
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Allocates `outShapes` on `backend`, runs `compute` over float32 views of inputs and outputs. */
function runJs(backend: unknown, inputs: tf.TensorInfo[], outShapes: number[][], compute: Compute): tf.TensorInfo[] {
  for (const t of inputs) {
    if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new Error(`rftkit fused kernels: float32/int32 inputs only (got ${t.dtype})`);
  }
  if (isWasmBackend(backend)) {
    const outs = outShapes.map((s) => backend.makeOutput(s, 'float32'));
    // Views only after every allocation: a malloc that grows memory detaches older views.
    const buf = backend.wasm.HEAPU8.buffer;
    const view = (t: tf.TensorInfo) =>
      (t.dtype === 'int32'
        ? new Int32Array(buf, tensorData(backend, t).memoryOffset, size(t.shape))
        : new Float32Array(buf, tensorData(backend, t).memoryOffset, size(t.shape))) as Float32Array;
    compute(inputs.map(view), outs.map(view));
    return outs;
  }
  if (isCpuBackend(backend)) {
    const ins = inputs.map((t) => {
      const v = backend.data.get(t.dataId)?.values;
      if (!(v instanceof Float32Array || v instanceof Int32Array)) throw new Error('rftkit fused kernels: cpu tensor values unavailable');
      return v as Float32Array;
    });
    const outs = outShapes.map((s) => new Float32Array(size(s)));
    compute(ins, outs);
    return outs.map((v, i) => backend.makeTensorInfo(outShapes[i]!, 'float32', v));
  }
  throw new Error('rftkit fused kernels: unsupported backend');
}

/**
 * Runs a kernel as rftkit's SIMD code on wasm (`simd`, given the byte offsets of inputs and
 * outputs) and as JavaScript elsewhere or when the SIMD module cannot load (`js`).
 */
function simdOrJs(
  backend: unknown,
  inputs: tf.TensorInfo[],
  outShapes: number[][],
  simd: (k: SimdKernels, ins: number[], outs: number[]) => void,
  js: Compute,
): tf.TensorInfo[] {
  const kernels = isWasmBackend(backend) ? simdKernels(backend) : undefined;
  if (kernels && isWasmBackend(backend)) return runSimd(backend, inputs, outShapes, (ins, outs) => simd(kernels, ins, outs));
  return runJs(backend, inputs, outShapes, js);
}

/** Mean and 1/std (biased variance + eps) of `x[o, o + D)`, in two passes. */
function rowMeanRstd(x: Float32Array, o: number, D: number, eps: number): { mean: number; rstd: number } {
  let mean = 0;
  for (let j = 0; j < D; j++) mean += x[o + j]!;
  mean /= D;
  let v = 0;
  for (let j = 0; j < D; j++) {
    const c = x[o + j]! - mean;
    v += c * c;
  }
  return { mean, rstd: 1 / Math.sqrt(v / D + eps) };
}

/** LayerNorm over the last axis: `x [rows, D]`, `gamma`/`beta` `[D]` → `y`. */
function layerNormForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, eps: number): void {
  const D = gamma.length;
  const rows = D === 0 ? 0 : x.length / D;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    const { mean, rstd } = rowMeanRstd(x, o, D, eps);
    for (let j = 0; j < D; j++) y[o + j] = (x[o + j]! - mean) * rstd * gamma[j]! + beta[j]!;
  }
}

/** Gradients of LayerNorm given `dy`; mean and 1/std are recomputed from `x` (one cheap pass). */
function layerNormBackward(
  dy: Float32Array,
  x: Float32Array,
  gamma: Float32Array,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
  eps: number,
): void {
  const D = gamma.length;
  const rows = D === 0 ? 0 : x.length / D;
  const dg = new Float64Array(D);
  const db = new Float64Array(D);
  const xhat = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    const { mean, rstd } = rowMeanRstd(x, o, D, eps);
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0; j < D; j++) {
      const xh = (x[o + j]! - mean) * rstd;
      xhat[j] = xh;
      const d = dy[o + j]!;
      dg[j] = dg[j]! + d * xh;
      db[j] = db[j]! + d;
      const g = d * gamma[j]!;
      sumG += g;
      sumGX += g * xh;
    }
    sumG /= D;
    sumGX /= D;
    for (let j = 0; j < D; j++) dx[o + j] = rstd * (dy[o + j]! * gamma[j]! - sumG - xhat[j]! * sumGX);
  }
  for (let j = 0; j < D; j++) {
    dgamma[j] = dg[j]!;
    dbeta[j] = db[j]!;
  }
}

const GELU_C2 = 2 * Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** `2u = 2√(2/π)(x + 0.044715x³)`, the argument of GELU's sigmoid. */
function geluArg(x: Float32Array, z: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    z[i] = GELU_C2 * (v + GELU_A * v * v * v);
  }
}

/** GELU (tanh form) as `x·σ(2u)` from `s = σ(2u)`, or computing σ here when `s` is null. */
function geluForward(x: Float32Array, s: Float32Array | null, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const si = s ? s[i]! : 1 / (1 + Math.exp(-GELU_C2 * (v + GELU_A * v * v * v)));
    y[i] = v * si;
  }
}

function geluBackward(dy: Float32Array, x: Float32Array, s: Float32Array | null, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const si = s ? s[i]! : 1 / (1 + Math.exp(-GELU_C2 * (v + GELU_A * v * v * v)));
    dx[i] = dy[i]! * (si + v * si * (1 - si) * GELU_C2 * (1 + 3 * GELU_A * v * v));
  }
}

/**
 * GELU's sigmoid on wasm: `Math.exp` costs ≈20 ns an element in JS, XNNPACK's vectorised
 * sigmoid a fraction of that, so the wasm path computes `2u` here, calls the backend's
 * Sigmoid kernel function directly (no tfjs dispatch), and finishes in JS.
 */
function geluJs(
  backend: unknown,
  inputs: tf.TensorInfo[],
  x: tf.TensorInfo,
  finish: (ins: Float32Array[], s: Float32Array | null, out: Float32Array) => void,
): tf.TensorInfo {
  const sigmoid = tf.getKernel('Sigmoid', 'wasm');
  if (!isWasmBackend(backend) || !sigmoid) return runJs(backend, inputs, [[...x.shape]], (ins, [out]) => finish(ins, null, out!))[0]!;
  const [z] = runJs(backend, [x], [[...x.shape]], ([xv], [zv]) => geluArg(xv!, zv!));
  const s = sigmoid.kernelFunc({ inputs: { x: z! }, backend: backend as never, attrs: {} }) as tf.TensorInfo;
  backend.disposeData(z!.dataId);
  try {
    return runJs(backend, [...inputs, s], [[...x.shape]], (ins, [out]) => finish(ins.slice(0, -1), ins[ins.length - 1]!, out!))[0]!;
  } finally {
    backend.disposeData(s.dataId);
  }
}

export interface AdamAttrs {
  /** Step size already divided by the first-moment bias correction (lr / bc1). */
  stepSize: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Second-moment bias correction 1 − β₂ᵗ. */
  bc2: number;
  /** Multiplier of θ before the step (1 − lr·wd for AdamW, else 1). */
  decay: number;
  /** Coefficient of θ added to the gradient (wd for Adam with L2, else 0). */
  l2: number;
}

/** One Adam/AdamW step of one variable: returns new θ, m, v (torch's order of operations). */
function adamUpdate(x: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, outs: Float32Array[], a: AdamAttrs): void {
  const [x1, m1, v1] = outs as [Float32Array, Float32Array, Float32Array];
  // Every scalar and intermediate rounded to float32 as the composite ops do, so the
  // result matches them bit for bit (double ×, ÷ and √ of floats round correctly).
  const f = Math.fround;
  const [stepSize, beta1, beta2, eps, bc2, decay, l2] = [a.stepSize, a.beta1, a.beta2, a.eps, a.bc2, a.decay, a.l2].map(f) as number[] as [number, number, number, number, number, number, number];
  const b1 = f(1 - a.beta1);
  const b2 = f(1 - a.beta2);
  for (let i = 0; i < x.length; i++) {
    const gi = l2 === 0 ? g[i]! : f(g[i]! + f(x[i]! * l2));
    const mi = f(f(m[i]! * beta1) + f(gi * b1));
    const vi = f(f(v[i]! * beta2) + f(f(gi * gi) * b2));
    m1[i] = mi;
    v1[i] = vi;
    const denom = f(f(Math.sqrt(f(vi / bc2))) + eps);
    x1[i] = f(x[i]! * decay) - f(f(mi / denom) * stepSize);
  }
}

/**
 * Of softmax(logits[o, o + V) / T): the max of the scaled logits, log Σ exp(s − max) and
 * the entropy (one pass for the max, one for the sum of exponentials and Σ p·s).
 */
function rowSoftmaxStats(logits: Float32Array, o: number, V: number, invT: number): { max: number; lse: number; entropy: number } {
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, logits[o + j]! * invT);
  let sum = 0;
  let sumPS = 0;
  for (let j = 0; j < V; j++) {
    const sj = logits[o + j]! * invT - max;
    const e = Math.exp(sj);
    sum += e;
    sumPS += e * sj;
  }
  const lse = Math.log(sum);
  // H = −Σ p (s − lse) = lse − Σ p s.
  return { max, lse, entropy: lse - sumPS / sum };
}

/**
 * Per row of `logits [rows, V]` at temperature `T`: `logp` of `targets[row]` under
 * softmax(logits/T) and the entropy of that distribution.
 */
function tokenLogpForward(logits: Float32Array, targets: Int32Array, logp: Float32Array, entropy: Float32Array, invT: number): void {
  const rows = targets.length;
  const V = rows === 0 ? 0 : logits.length / rows;
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    const { max, lse, entropy: H } = rowSoftmaxStats(logits, o, V, invT);
    logp[r] = logits[o + targets[r]!]! * invT - max - lse;
    entropy[r] = H;
  }
}

/** d/dlogits of Σ dlogp·logp + Σ dent·H: (1/T)[dlogp(δ_t − p) − dent·p(log p + H)]. */
function tokenLogpBackward(
  dlogp: Float32Array,
  dent: Float32Array,
  logits: Float32Array,
  targets: Int32Array,
  dx: Float32Array,
  invT: number,
): void {
  const rows = targets.length;
  const V = rows === 0 ? 0 : logits.length / rows;
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    const { max, lse, entropy: H } = rowSoftmaxStats(logits, o, V, invT);
    const g1 = dlogp[r]!;
    const g2 = dent[r]!;
    for (let j = 0; j < V; j++) {
      const logpj = logits[o + j]! * invT - max - lse;
      const p = Math.exp(logpj);
      dx[o + j] = invT * (-g1 * p - g2 * p * (logpj + H));
    }
    const t = targets[r]!;
    dx[o + t] = dx[o + t]! + invT * g1;
  }
}

function attentionDims(q: tf.TensorInfo, k: tf.TensorInfo, attrs?: Record<string, unknown>): AttentionDims {
  const H = attrs?.heads as number;
  const [B, Tq, D] = q.shape as [number, number, number];
  const dh = D / H;
  const Tk = k.shape[1] as number;
  return { B, Tq, Tk, L: (attrs?.keyLength as number | undefined) ?? Tk, H, KH: (k.shape[2] as number) / dh, dh, causal: Boolean(attrs?.causal) };
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };

function kernels(): Array<{ name: string; func: (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[] }> {
  return [
    {
      name: LAYER_NORM,
      func: ({ inputs: { x, gamma, beta }, backend, attrs }) => {
        const eps = attrs?.epsilon as number;
        const D = gamma!.shape[0]!;
        const rows = D === 0 ? 0 : tf.util.sizeFromShape(x!.shape) / D;
        return simdOrJs(
          backend,
          [x!, gamma!, beta!],
          [[...x!.shape]],
          (k, [xp, gp, bp], [yp]) => k.layer_norm_forward(xp!, gp!, bp!, yp!, rows, D, eps),
          ([xv, gv, bv], [y]) => layerNormForward(xv!, gv!, bv!, y!, eps),
        )[0]!;
      },
    },
    {
      name: LAYER_NORM_GRAD,
      func: ({ inputs: { dy, x, gamma }, backend, attrs }) => {
        const eps = attrs?.epsilon as number;
        const D = gamma!.shape[0]!;
        const rows = D === 0 ? 0 : tf.util.sizeFromShape(x!.shape) / D;
        return simdOrJs(
          backend,
          [dy!, x!, gamma!],
          [[...x!.shape], [...gamma!.shape], [...gamma!.shape]],
          (k, [g, xp, gp], [dx, dg, db]) => k.layer_norm_backward(g!, xp!, gp!, dx!, dg!, db!, rows, D, eps),
          ([dyv, xv, gv], [dx, dg, db]) => layerNormBackward(dyv!, xv!, gv!, dx!, dg!, db!, eps),
        );
      },
    },
    {
      name: GELU,
      func: ({ inputs: { x }, backend }) => {
        const kernels = isWasmBackend(backend) ? simdKernels(backend) : undefined;
        if (!kernels) return geluJs(backend, [x!], x!, ([xv], s, y) => geluForward(xv!, s, y));
        const n = tf.util.sizeFromShape(x!.shape);
        return runSimd(backend as WasmBackend, [x!], [[...x!.shape]], ([xp], [yp]) => kernels.gelu_forward(xp!, yp!, n))[0]!;
      },
    },
    {
      name: GELU_GRAD,
      func: ({ inputs: { dy, x }, backend }) => {
        const kernels = isWasmBackend(backend) ? simdKernels(backend) : undefined;
        if (!kernels) return geluJs(backend, [dy!, x!], x!, ([dyv, xv], s, dx) => geluBackward(dyv!, xv!, s, dx));
        const n = tf.util.sizeFromShape(x!.shape);
        return runSimd(backend as WasmBackend, [dy!, x!], [[...x!.shape]], ([g, xp], [dxp]) => kernels.gelu_backward(g!, xp!, dxp!, n))[0]!;
      },
    },
    {
      name: ADAM_UPDATE,
      func: ({ inputs: { x, g, m, v }, backend, attrs }) => {
        const a = attrs as unknown as AdamAttrs;
        const f = Math.fround;
        const n = tf.util.sizeFromShape(x!.shape);
        return simdOrJs(
          backend,
          [x!, g!, m!, v!],
          [[...x!.shape], [...x!.shape], [...x!.shape]],
          (k, [xp, gp, mp, vp], [x1, m1, v1]) => {
            const scalars: [number, number, number, number, number, number, number, number, number] = [
              a.stepSize,
              a.beta1,
              a.beta2,
              a.eps,
              a.bc2,
              a.decay,
              a.l2,
              f(1 - a.beta1),
              f(1 - a.beta2),
            ];
            // Large parameters on every thread (an embedding table is 28M values at 135M parameters).
            const pool = simdThreads(backend as WasmBackend);
            if (pool) pool.runAdam([xp!, gp!, mp!, vp!, x1!, m1!, v1!], n, scalars);
            else k.adam_update(xp!, gp!, mp!, vp!, x1!, m1!, v1!, n, ...scalars);
          },
          ([xv, gv, mv, vv], outs) => adamUpdate(xv!, gv!, mv!, vv!, outs, a),
        );
      },
    },
    {
      name: TOKEN_LOGP,
      func: ({ inputs: { logits, targets }, backend, attrs }) => {
        const invT = 1 / (attrs?.temperature as number);
        const rows = tf.util.sizeFromShape(targets!.shape);
        const V = rows === 0 ? 0 : tf.util.sizeFromShape(logits!.shape) / rows;
        return simdOrJs(
          backend,
          [logits!, targets!],
          [[...targets!.shape], [...targets!.shape]],
          (k, [lp, tp], [op, ep]) => k.token_logp_forward(lp!, tp!, op!, ep!, rows, V, invT),
          ([lv, tv], [lp, ent]) => tokenLogpForward(lv!, tv as unknown as Int32Array, lp!, ent!, invT),
        );
      },
    },
    {
      name: TOKEN_LOGP_GRAD,
      func: ({ inputs: { dlogp, dentropy, logits, targets }, backend, attrs }) => {
        const invT = 1 / (attrs?.temperature as number);
        const rows = tf.util.sizeFromShape(targets!.shape);
        const V = rows === 0 ? 0 : tf.util.sizeFromShape(logits!.shape) / rows;
        return simdOrJs(
          backend,
          [dlogp!, dentropy!, logits!, targets!],
          [[...logits!.shape]],
          (k, [g1, g2, lp, tp], [dx]) => k.token_logp_backward(g1!, g2!, lp!, tp!, dx!, rows, V, invT),
          ([g1, g2, lv, tv], [dx]) => tokenLogpBackward(g1!, g2!, lv!, tv as unknown as Int32Array, dx!, invT),
        )[0]!;
      },
    },
    {
      // wasm: the SIMD build of the same loops (simd/kernels.c); cpu: JavaScript.
      name: ATTENTION,
      func: ({ inputs: { q, k, v, keyMask }, backend, attrs }) => {
        const d = attentionDims(q!, k!, attrs);
        const ins = [q!, k!, v!, keyMask!];
        const outShapes = [[...q!.shape], [d.B, d.H, d.Tq, d.Tk]];
        const simd = isWasmBackend(backend) ? simdKernels(backend) : undefined;
        if (simd && isWasmBackend(backend)) {
          // Batch rows on every thread where the work is large enough.
          const pool = simdThreads(backend);
          const run = pool ? pool.runAttentionForward.bind(pool) : simd.attention_forward;
          return runSimd(backend, ins, outShapes, ([qp, kp, vp, mp], [op, pp]) =>
            run(qp!, kp!, vp!, mp!, op!, pp!, d.B, d.Tq, d.Tk, d.L ?? d.Tk, d.H, d.KH, d.dh, d.causal ? 1 : 0),
          );
        }
        return runJs(backend, ins, outShapes, ([qv, kv, vv, mv], [out, probs]) =>
          attentionForward(qv!, kv!, vv!, mv!, out!, probs!, d),
        );
      },
    },
    {
      name: ATTENTION_GRAD,
      func: ({ inputs: { dy, q, k, v, probs }, backend, attrs }) => {
        const d = attentionDims(q!, k!, attrs);
        const ins = [dy!, q!, k!, v!, probs!];
        const outShapes = [[...q!.shape], [...k!.shape], [...v!.shape]];
        const simd = isWasmBackend(backend) ? simdKernels(backend) : undefined;
        if (simd && isWasmBackend(backend)) {
          const pool = simdThreads(backend);
          const run = pool ? pool.runAttentionBackward.bind(pool) : simd.attention_backward;
          return runSimd(backend, ins, outShapes, ([g, qp, kp, vp, pp], [dq, dk, dv]) =>
            run(g!, qp!, kp!, vp!, pp!, dq!, dk!, dv!, d.B, d.Tq, d.Tk, d.H, d.KH, d.dh),
          );
        }
        return runJs(backend, ins, outShapes, ([dyv, qv, kv, vv, pv], [dq, dk, dv]) =>
          attentionBackward(dyv!, qv!, kv!, vv!, pv!, dq!, dk!, dv!, d),
        );
      },
    },
    {
      // Scatter-add of dy's rows into a zeroed [vocab, d] table (the embedding gradient).
      name: EMBEDDING_GRAD,
      func: ({ inputs: { dy, ids }, backend, attrs }) => {
        const V = attrs?.vocab as number;
        const d = dy!.shape[1]!;
        return runJs(backend, [dy!, ids!], [[V, d]], ([g, idv], outs) => {
          const index = idv as unknown as Int32Array;
          const out = outs[0] as Float32Array;
          out.fill(0);
          for (let i = 0; i < index.length; i++) {
            const v = index[i]!;
            if (v < 0 || v >= V) continue;
            const src = i * d;
            const dst = v * d;
            for (let j = 0; j < d; j++) out[dst + j] = (out[dst + j] as number) + (g![src + j] as number);
          }
        })[0]!;
      },
    },
    {
      // Inputs named t0, t1, …: Σ over all of them of x², accumulated in double.
      name: SUM_OF_SQUARES,
      func: ({ inputs, backend }) => {
        const list = Object.keys(inputs)
          .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
          .map((k) => inputs[k]!);
        const kernels = isWasmBackend(backend) ? simdKernels(backend) : undefined;
        if (kernels && isWasmBackend(backend)) {
          let acc = 0;
          for (const t of list) acc += kernels.sum_of_squares(tensorData(backend, t).memoryOffset, tf.util.sizeFromShape(t.shape));
          const out = backend.makeOutput([], 'float32');
          new Float32Array(backend.wasm.HEAPU8.buffer, tensorData(backend, out).memoryOffset, 1)[0] = acc;
          return out;
        }
        return runJs(backend, list, [[]], (ins, [out]) => {
          let acc = 0;
          for (const x of ins) for (let i = 0; i < x.length; i++) acc += x[i]! * x[i]!;
          out![0] = acc;
        })[0]!;
      },
    },
  ];
}

/** Backends the JS kernels can run on (they need direct access to float32 buffers). */
export const JS_KERNEL_BACKENDS = ['wasm', 'cpu'] as const;

/**
 * Registers the fused kernels for wasm and cpu (idempotent; safe from two copies of this
 * module in one process, e.g. source and dist).
 */
let registered = false;

export function registerJsKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of JS_KERNEL_BACKENDS) {
    for (const { name, func } of kernels()) {
      if (tf.getKernel(name, backendName)) continue;
      tf.registerKernel({ kernelName: name, backendName, kernelFunc: func as unknown as tf.KernelConfig['kernelFunc'] });
    }
  }
}

/** Whether the active backend runs fused kernel `name` (else ops use their composite form). */
export function hasJsKernel(name: string): boolean {
  registerJsKernels();
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}
