/**
 * Scaled dot-product attention over heads laid side by side, as JavaScript loops (the cpu
 * backend's kernel; wasm runs the same algorithm compiled with SIMD, `simd/kernels.c`).
 *
 * Layout: `q [B, Tq, H·dh]`, `k`/`v` `[B, Tk, KH·dh]` (the projections' own layout, so no
 * head split/merge transposes; with KH < H, grouped-query attention: query head h reads kv
 * head `h / (H/KH)`, so kv heads are never repeated), `keyMask [B, Tk]` (1 visible, 0 hidden). Query `i` sees key
 * `j` when the key is visible and, if causal, `j ≤ i + Tk − Tq`. With `L < Tk` only the first
 * L keys exist (a cache filled that far): the rest are never read, get probability 0, and Tk
 * reads as L above. A query that sees no key averages all `L` values uniformly: that is what the composite form (scores + −1e9 bias,
 * softmax) gives in float32, kept so padded rows stay finite and the two forms agree.
 */
export interface AttentionDims {
  B: number;
  Tq: number;
  Tk: number;
  /** Keys read, ≤ Tk (default Tk). */
  L?: number;
  H: number;
  /** kv heads; divides H. */
  KH: number;
  dh: number;
  causal: boolean;
}

/** Fills `out [B, Tq, H·dh]` and `probs [B, H, Tq, Tk]`. */
export function attentionForward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  keyMask: Float32Array,
  out: Float32Array,
  probs: Float32Array,
  d: AttentionDims,
): void {
  const { B, Tq, Tk, H, KH, dh, causal } = d;
  const L = d.L ?? Tk;
  const D = H * dh;
  const DK = KH * dh;
  const group = H / KH;
  const scale = 1 / Math.sqrt(dh);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const qo = (b * Tq + i) * D + h * dh;
        const last = causal ? Math.min(L - 1, i + L - Tq) : L - 1;
        const po = ((b * H + h) * Tq + i) * Tk;
        probs.fill(0, po + L, po + Tk);
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < L; j++) {
          let s = Number.NEGATIVE_INFINITY;
          if (j <= last && keyMask[b * Tk + j]! > 0) {
            const ko = (b * Tk + j) * DK + Math.floor(h / group) * dh;
            let dot = 0;
            for (let c = 0; c < dh; c++) dot += q[qo + c]! * k[ko + c]!;
            s = dot * scale;
            if (s > max) max = s;
          }
          probs[po + j] = s;
        }
        if (max === Number.NEGATIVE_INFINITY) {
          probs.fill(1 / L, po, po + L);
        } else {
          let sum = 0;
          for (let j = 0; j < L; j++) {
            const e = probs[po + j] === Number.NEGATIVE_INFINITY ? 0 : Math.exp(probs[po + j]! - max);
            probs[po + j] = e;
            sum += e;
          }
          for (let j = 0; j < L; j++) probs[po + j] = probs[po + j]! / sum;
        }
        out.fill(0, qo, qo + dh);
        for (let j = 0; j < L; j++) {
          const p = probs[po + j]!;
          if (p === 0) continue;
          const vo = (b * Tk + j) * DK + Math.floor(h / group) * dh;
          for (let c = 0; c < dh; c++) out[qo + c] = out[qo + c]! + p * v[vo + c]!;
        }
      }
    }
  }
}

/** Gradients `dq`, `dk`, `dv` from `dout` and the forward's `probs` (softmax backward; a group's query heads add into their kv head's dk, dv). */
export function attentionBackward(
  dout: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  probs: Float32Array,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  d: AttentionDims,
): void {
  const { B, Tq, Tk, H, KH, dh } = d;
  const D = H * dh;
  const DK = KH * dh;
  const group = H / KH;
  const scale = 1 / Math.sqrt(dh);
  dq.fill(0);
  dk.fill(0);
  dv.fill(0);
  const dp = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const qo = (b * Tq + i) * D + h * dh;
        const po = ((b * H + h) * Tq + i) * Tk;
        // dP_j = dO_i · v_j, and dV_j += p_ij dO_i.
        let rowDot = 0;
        for (let j = 0; j < Tk; j++) {
          const p = probs[po + j]!;
          if (p === 0) continue;
          const vo = (b * Tk + j) * DK + Math.floor(h / group) * dh;
          let g = 0;
          for (let c = 0; c < dh; c++) {
            g += dout[qo + c]! * v[vo + c]!;
            dv[vo + c] = dv[vo + c]! + p * dout[qo + c]!;
          }
          dp[j] = g;
          rowDot += p * g;
        }
        // dS_j = p_j (dP_j − Σ p dP); dQ_i += scale dS_j k_j; dK_j += scale dS_j q_i.
        for (let j = 0; j < Tk; j++) {
          const p = probs[po + j]!;
          if (p === 0) continue;
          const ds = p * (dp[j]! - rowDot) * scale;
          const ko = (b * Tk + j) * DK + Math.floor(h / group) * dh;
          for (let c = 0; c < dh; c++) {
            dq[qo + c] = dq[qo + c]! + ds * k[ko + c]!;
            dk[ko + c] = dk[ko + c]! + ds * q[qo + c]!;
          }
        }
      }
    }
  }
}
