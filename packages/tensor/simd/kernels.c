// SIMD kernels that run inside tfjs-backend-wasm's memory.
//
// Built by packages/tensor/simd/build.mjs (clang --target=wasm32 -msimd128) into a module
// that imports the backend's memory; every pointer argument is a byte offset of a tensor
// the backend owns. The functions use no static data and no stack (only scalar and v128
// locals), so nothing of the backend's memory is touched but the buffers passed in;
// build.mjs checks the compiled module for that.

#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

// a·b + c per lane. The relaxed build (RFT_RELAXED) uses relaxed SIMD's fused multiply-add,
// emitted by clang 14 under its prototype opcode, which build.mjs rewrites to the final
// f32x4.relaxed_madd (whose operand order is a·b + c). Elsewhere a multiply and an add.
#ifdef RFT_RELAXED
#define MADD(a, b, c) __builtin_wasm_fma_f32x4(a, b, c)
#else
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul(a, b), c)
#endif

/** e^x for x ≤ 88.7 (Cephes expf polynomial, relative error ≈ 1e-7); 0 below −87.3. */
static inline float exp_f32(float x) {
  if (x < -87.3f) return 0.0f;
  if (x > 88.7f) x = 88.7f;
  float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  union {
    float f;
    int i;
  } scale;
  scale.i = ((int)n + 127) << 23;
  return y * scale.f;
}

static inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) +
         wasm_f32x4_extract_lane(v, 3);
}

/** a · b over n floats (n a multiple of 4 takes the vector path). */
static inline float dot(const float *a, const float *b, int n) {
  if ((n & 3) == 0) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int c = 0; c < n; c += 4) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(a + c), wasm_v128_load(b + c)));
    return hsum(acc);
  }
  float s = 0.0f;
  for (int c = 0; c < n; c++) s += a[c] * b[c];
  return s;
}

/** y += alpha · x over n floats. */
static inline void axpy(float *y, float alpha, const float *x, int n) {
  if ((n & 3) == 0) {
    v128_t va = wasm_f32x4_splat(alpha);
    for (int c = 0; c < n; c += 4)
      wasm_v128_store(y + c, wasm_f32x4_add(wasm_v128_load(y + c), wasm_f32x4_mul(va, wasm_v128_load(x + c))));
    return;
  }
  for (int c = 0; c < n; c++) y[c] += alpha * x[c];
}

static inline void zero(float *y, int n) {
  int c = 0;
  for (; c + 4 <= n; c += 4) wasm_v128_store(y + c, wasm_f32x4_splat(0.0f));
  for (; c < n; c++) y[c] = 0.0f;
}

/** e^x per lane with exp_f32's polynomial; lanes below −87.3 (and −∞) give 0. */
static inline v128_t exp_f32x4(v128_t x) {
  const v128_t lo = wasm_f32x4_splat(-87.3f);
  v128_t under = wasm_f32x4_lt(x, lo);
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, lo), wasm_f32x4_splat(88.7f));
  v128_t n = wasm_f32x4_floor(wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)), wasm_f32x4_splat(0.5f)));
  v128_t r = wasm_f32x4_add(wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f))),
                            wasm_f32x4_mul(n, wasm_f32x4_splat(2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  v128_t y = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), r), wasm_f32x4_splat(1.0f));
  v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_v128_andnot(wasm_f32x4_mul(y, scale), under);
}

/**
 * The dot products of q with four keys (dh a multiple of 4), as one vector. `ordered` adds
 * each key's four lanes as ((l0 + l1) + l2) + l3, the order `dot` uses, so the result equals
 * four `dot` calls bit for bit (the backward pass keeps its rounding); otherwise as
 * (l0 + l2) + (l1 + l3), two shuffles fewer (the forward pass).
 */
static inline v128_t dot4(const float *q, const float *k0, const float *k1, const float *k2, const float *k3, int dh,
                          int ordered) {
  v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
  for (int c = 0; c < dh; c += 4) {
    v128_t qc = wasm_v128_load(q + c);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(qc, wasm_v128_load(k0 + c)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(qc, wasm_v128_load(k1 + c)));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(qc, wasm_v128_load(k2 + c)));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(qc, wasm_v128_load(k3 + c)));
  }
  v128_t t0 = wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7);
  v128_t t2 = wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7);
  if (ordered) {
    // 4×4 transpose: column t holds lane t of every key.
    v128_t c0 = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5), c1 = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
    v128_t c2 = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5), c3 = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
    return wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(c0, c1), c2), c3);
  }
  // Transpose-and-add: lane t of the result is the sum of the lanes of a_t.
  v128_t s01 = wasm_f32x4_add(t0, t1);
  v128_t s23 = wasm_f32x4_add(t2, t3);
  return wasm_f32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 1, 4, 5), wasm_i32x4_shuffle(s01, s23, 2, 3, 6, 7));
}

/**
 * One query row's probabilities over Tk keys into p (scores, masked, softmax), for dh a
 * multiple of 4: four keys per step. Returns the last key with a nonzero probability.
 */
static int softmax_row4(const float *qi, const float *kb, const float *mask, float *p, int Tk, int D, int dh, int last,
                        float scale) {
  const v128_t neg = wasm_f32x4_splat(-__builtin_inff()), vscale = wasm_f32x4_splat(scale);
  const v128_t lanes = wasm_i32x4_make(0, 1, 2, 3), vlast = wasm_i32x4_splat(last);
  v128_t vmax = neg;
  int j = 0;
  for (; j + 4 <= Tk; j += 4) {
    const float *k0 = kb + j * D;
    v128_t s = wasm_f32x4_mul(dot4(qi, k0, k0 + D, k0 + 2 * D, k0 + 3 * D, dh, 0), vscale);
    v128_t visible = wasm_v128_and(wasm_f32x4_gt(wasm_v128_load(mask + j), wasm_f32x4_splat(0.0f)),
                                   wasm_i32x4_le(wasm_i32x4_add(lanes, wasm_i32x4_splat(j)), vlast));
    s = wasm_v128_bitselect(s, neg, visible);
    wasm_v128_store(p + j, s);
    vmax = wasm_f32x4_pmax(vmax, s);
  }
  float max = wasm_f32x4_extract_lane(vmax, 0);
  for (int t = 1; t < 4; t++) {
    float m = t == 1 ? wasm_f32x4_extract_lane(vmax, 1) : t == 2 ? wasm_f32x4_extract_lane(vmax, 2) : wasm_f32x4_extract_lane(vmax, 3);
    if (m > max) max = m;
  }
  for (; j < Tk; j++) {
    if (j <= last && mask[j] > 0.0f) {
      p[j] = dot(qi, kb + j * D, dh) * scale;
      if (p[j] > max) max = p[j];
    } else {
      p[j] = -__builtin_inff();
    }
  }
  if (max == -__builtin_inff()) {
    for (j = 0; j < Tk; j++) p[j] = 1.0f / (float)Tk;
    return Tk - 1;
  }
  const v128_t vm = wasm_f32x4_splat(max);
  v128_t vsum = wasm_f32x4_splat(0.0f);
  for (j = 0; j + 4 <= Tk; j += 4) {
    v128_t e = exp_f32x4(wasm_f32x4_sub(wasm_v128_load(p + j), vm));
    wasm_v128_store(p + j, e);
    vsum = wasm_f32x4_add(vsum, e);
  }
  float sum = hsum(vsum);
  for (; j < Tk; j++) {
    p[j] = p[j] == -__builtin_inff() ? 0.0f : exp_f32(p[j] - max);
    sum += p[j];
  }
  const float inv = 1.0f / sum;
  for (j = 0; j < Tk; j++) p[j] *= inv;
  return last;
}

/**
 * Attention forward over heads laid side by side: q [B,Tq,H·dh], k/v [B,Tk,KH·dh] with KH
 * dividing H (grouped-query attention: query head h reads kv head h / (H/KH)),
 * keyMask [B,Tk] (> 0 visible). Only the first L ≤ Tk keys exist (a cache filled that far;
 * the rest are never read and get probability 0). Query i sees key j < L when visible and,
 * if causal, j ≤ i + L − Tq; a query that sees none averages all L values. Writes
 * out [B,Tq,H·dh] and probs [B,H,Tq,Tk].
 */
EXPORT(attention_forward)
void attention_forward(const float *q, const float *k, const float *v, const float *keyMask, float *out, float *probs,
                       int B, int Tq, int Tk, int L, int H, int KH, int dh, int causal) {
  const int D = H * dh, DK = KH * dh, group = H / KH;
  const float scale = 1.0f / __builtin_sqrtf((float)dh);
  for (int b = 0; b < B; b++) {
    const float *mask = keyMask + b * Tk;
    for (int h = 0; h < H; h++) {
      for (int i = 0; i < Tq; i++) {
        const float *qi = q + (b * Tq + i) * D + h * dh;
        float *p = probs + ((b * H + h) * Tq + i) * Tk;
        int last = causal ? i + L - Tq : L - 1;
        if (last > L - 1) last = L - 1;
        zero(p + L, Tk - L);
        if ((dh & 3) == 0) {
          last = softmax_row4(qi, k + b * Tk * DK + (h / group) * dh, mask, p, L, DK, dh, last, scale);
        } else {
          float max = -__builtin_inff();
          for (int j = 0; j < L; j++) {
            if (j <= last && mask[j] > 0.0f) {
              float s = dot(qi, k + (b * Tk + j) * DK + (h / group) * dh, dh) * scale;
              p[j] = s;
              if (s > max) max = s;
            } else {
              p[j] = -__builtin_inff();
            }
          }
          if (max == -__builtin_inff()) {
            for (int j = 0; j < L; j++) p[j] = 1.0f / (float)L;
            last = L - 1;
          } else {
            float sum = 0.0f;
            for (int j = 0; j < L; j++) {
              float e = p[j] == -__builtin_inff() ? 0.0f : exp_f32(p[j] - max);
              p[j] = e;
              sum += e;
            }
            const float inv = 1.0f / sum;
            for (int j = 0; j < L; j++) p[j] *= inv;
          }
        }
        float *o = out + (b * Tq + i) * D + h * dh;
        zero(o, dh);
        for (int j = 0; j <= last; j++) {
          if (p[j] != 0.0f) axpy(o, p[j], v + (b * Tk + j) * DK + (h / group) * dh, dh);
        }
      }
    }
  }
}

/**
 * Attention backward from dout [B,Tq,H·dh] and the forward's probs: dq, dk, dv (same
 * layouts as q, k, v; the query heads of a group add into their kv head's dk and dv, in
 * head order). dS_j = p_j (dP_j − Σ_j p_j dP_j) with dP_j = dout_i · v_j, which is
 * computed twice rather than kept (the kernel has no scratch memory).
 */
EXPORT(attention_backward)
void attention_backward(const float *dout, const float *q, const float *k, const float *v, const float *probs, float *dq,
                        float *dk, float *dv, int B, int Tq, int Tk, int H, int KH, int dh) {
  const int D = H * dh, DK = KH * dh, group = H / KH;
  const float scale = 1.0f / __builtin_sqrtf((float)dh);
  zero(dq, B * Tq * D);
  zero(dk, B * Tk * DK);
  zero(dv, B * Tk * DK);
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < H; h++) {
      for (int i = 0; i < Tq; i++) {
        const int qo = (b * Tq + i) * D + h * dh;
        const float *p = probs + ((b * H + h) * Tq + i) * Tk;
        const float *g = dout + qo;
        // Keys past the last nonzero probability contribute nothing (causal rows end early).
        int end = Tk;
        while (end > 0 && p[end - 1] == 0.0f) end--;
        const int ko = b * Tk * DK + (h / group) * dh;
        const float *vb = v + ko, *kb = k + ko;
        float *dvb = dv + ko, *dkb = dk + ko;
        // Σ_j p_j dP_j, with dP_j = dout_i · v_j four keys at a time; dV_j += p_j dout_i.
        int j = 0;
        float rowDot = 0.0f;
        if ((dh & 3) == 0) {
          for (; j + 4 <= end; j += 4) {
            const float *v0 = vb + j * DK;
            // Summed key by key, in order, as the one-key loop below does.
            v128_t pd = wasm_f32x4_mul(wasm_v128_load(p + j), dot4(g, v0, v0 + DK, v0 + 2 * DK, v0 + 3 * DK, dh, 1));
            rowDot += wasm_f32x4_extract_lane(pd, 0);
            rowDot += wasm_f32x4_extract_lane(pd, 1);
            rowDot += wasm_f32x4_extract_lane(pd, 2);
            rowDot += wasm_f32x4_extract_lane(pd, 3);
            for (int t = 0; t < 4; t++) axpy(dvb + (j + t) * DK, p[j + t], g, dh);
          }
        }
        for (; j < end; j++) {
          if (p[j] == 0.0f) continue;
          rowDot += p[j] * dot(g, vb + j * DK, dh);
          axpy(dvb + j * DK, p[j], g, dh);
        }
        // dS_j = p_j (dP_j − Σ p dP) · scale; dQ_i += dS_j k_j; dK_j += dS_j q_i.
        j = 0;
        if ((dh & 3) == 0) {
          const v128_t vrow = wasm_f32x4_splat(rowDot), vscale = wasm_f32x4_splat(scale);
          for (; j + 4 <= end; j += 4) {
            const float *v0 = vb + j * DK;
            v128_t ds = wasm_f32x4_mul(
                wasm_f32x4_mul(wasm_v128_load(p + j), wasm_f32x4_sub(dot4(g, v0, v0 + DK, v0 + 2 * DK, v0 + 3 * DK, dh, 1), vrow)), vscale);
            float d0 = wasm_f32x4_extract_lane(ds, 0), d1 = wasm_f32x4_extract_lane(ds, 1);
            float d2 = wasm_f32x4_extract_lane(ds, 2), d3 = wasm_f32x4_extract_lane(ds, 3);
            axpy(dq + qo, d0, kb + j * DK, dh);
            axpy(dq + qo, d1, kb + (j + 1) * DK, dh);
            axpy(dq + qo, d2, kb + (j + 2) * DK, dh);
            axpy(dq + qo, d3, kb + (j + 3) * DK, dh);
            axpy(dkb + j * DK, d0, q + qo, dh);
            axpy(dkb + (j + 1) * DK, d1, q + qo, dh);
            axpy(dkb + (j + 2) * DK, d2, q + qo, dh);
            axpy(dkb + (j + 3) * DK, d3, q + qo, dh);
          }
        }
        for (; j < end; j++) {
          if (p[j] == 0.0f) continue;
          const float ds = p[j] * (dot(g, vb + j * DK, dh) - rowDot) * scale;
          axpy(dq + qo, ds, kb + j * DK, dh);
          axpy(dkb + j * DK, ds, q + qo, dh);
        }
      }
    }
  }
}

// ---- GELU, tanh form: 0.5·x·(1 + tanh u), u = √(2/π)(x + 0.044715x³) (torch approximate='tanh')

/**
 * tanh as a rational function (odd degree-13 numerator over even degree-6 denominator, input
 * clamped to ±7.9053, where tanh is 1 in float32): within 4e-7 of tanh everywhere, with
 * one division and no exp, so it vectorises cheaply.
 */
static inline v128_t tanh_f32x4(v128_t x) {
  const v128_t limit = wasm_f32x4_splat(7.90531110763549805f);
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, wasm_f32x4_neg(limit)), limit);
  v128_t x2 = wasm_f32x4_mul(x, x);
  v128_t p = wasm_f32x4_splat(-2.76076847742355e-16f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(2.00018790482477e-13f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(-8.60467152213735e-11f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(5.12229709037114e-08f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(1.48572235717979e-05f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(6.37261928875436e-04f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(4.89352455891786e-03f));
  p = wasm_f32x4_mul(p, x);
  v128_t q = wasm_f32x4_splat(1.19825839466702e-06f);
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(1.18534705686654e-04f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(2.26843463243900e-03f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(4.89352518554385e-03f));
  return wasm_f32x4_div(p, q);
}

#define GELU_C 0.7978845608028654f
#define GELU_A 0.044715f

/** tanh u for x (one vector). */
static inline v128_t gelu_tanh(v128_t x) {
  v128_t x3 = wasm_f32x4_mul(wasm_f32x4_mul(x, x), x);
  return tanh_f32x4(wasm_f32x4_mul(wasm_f32x4_splat(GELU_C), wasm_f32x4_add(x, wasm_f32x4_mul(wasm_f32x4_splat(GELU_A), x3))));
}

/** The last n % 4 elements go through one zero-padded vector. */
static inline v128_t load_tail(const float *x, int n) {
  float a = n > 0 ? x[0] : 0.0f, b = n > 1 ? x[1] : 0.0f, c = n > 2 ? x[2] : 0.0f;
  return wasm_f32x4_make(a, b, c, 0.0f);
}

static inline void store_tail(float *y, v128_t v, int n) {
  if (n > 0) y[0] = wasm_f32x4_extract_lane(v, 0);
  if (n > 1) y[1] = wasm_f32x4_extract_lane(v, 1);
  if (n > 2) y[2] = wasm_f32x4_extract_lane(v, 2);
}

static inline v128_t gelu4(v128_t v) {
  v128_t half = wasm_f32x4_splat(0.5f);
  return wasm_f32x4_mul(wasm_f32x4_mul(half, v), wasm_f32x4_add(wasm_f32x4_splat(1.0f), gelu_tanh(v)));
}

/** d gelu/dx = 0.5(1 + t) + 0.5·x(1 − t²)·√(2/π)(1 + 3·0.044715x²), t = tanh u. */
static inline v128_t gelu_grad4(v128_t v) {
  const v128_t one = wasm_f32x4_splat(1.0f), half = wasm_f32x4_splat(0.5f);
  v128_t t = gelu_tanh(v);
  v128_t du = wasm_f32x4_mul(wasm_f32x4_splat(GELU_C),
                             wasm_f32x4_add(one, wasm_f32x4_mul(wasm_f32x4_splat(3.0f * GELU_A), wasm_f32x4_mul(v, v))));
  v128_t a = wasm_f32x4_mul(half, wasm_f32x4_add(one, t));
  v128_t b = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_mul(half, v), wasm_f32x4_sub(one, wasm_f32x4_mul(t, t))), du);
  return wasm_f32x4_add(a, b);
}

EXPORT(gelu_forward)
void gelu_forward(const float *x, float *y, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, gelu4(wasm_v128_load(x + i)));
  if (i < n) store_tail(y + i, gelu4(load_tail(x + i, n - i)), n - i);
}

EXPORT(gelu_backward)
void gelu_backward(const float *dy, const float *x, float *dx, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dx + i, wasm_f32x4_mul(wasm_v128_load(dy + i), gelu_grad4(wasm_v128_load(x + i))));
  if (i < n) store_tail(dx + i, wasm_f32x4_mul(load_tail(dy + i, n - i), gelu_grad4(load_tail(x + i, n - i))), n - i);
}

// ---- LayerNorm over the last axis (biased variance, as torch) ------------------------------

static inline float row_sum(const float *x, int n) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  int j = 0;
  for (; j + 4 <= n; j += 4) acc = wasm_f32x4_add(acc, wasm_v128_load(x + j));
  float s = hsum(acc);
  for (; j < n; j++) s += x[j];
  return s;
}

/** Mean and 1/√(var + eps) of one row, in two passes. */
__attribute__((always_inline)) static inline void mean_rstd(const float *x, int D, float eps, float *mean_out, float *rstd_out) {
  const float mean = row_sum(x, D) / (float)D;
  v128_t vm = wasm_f32x4_splat(mean), acc = wasm_f32x4_splat(0.0f);
  int j = 0;
  for (; j + 4 <= D; j += 4) {
    v128_t c = wasm_f32x4_sub(wasm_v128_load(x + j), vm);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(c, c));
  }
  float var = hsum(acc);
  for (; j < D; j++) var += (x[j] - mean) * (x[j] - mean);
  *mean_out = mean;
  *rstd_out = 1.0f / __builtin_sqrtf(var / (float)D + eps);
}

EXPORT(layer_norm_forward)
void layer_norm_forward(const float *x, const float *gamma, const float *beta, float *y, int rows, int D, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + r * D;
    float *yr = y + r * D;
    float mean, rstd;
    mean_rstd(xr, D, eps, &mean, &rstd);
    v128_t vm = wasm_f32x4_splat(mean), vr = wasm_f32x4_splat(rstd);
    int j = 0;
    for (; j + 4 <= D; j += 4) {
      v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), vm), vr);
      wasm_v128_store(yr + j, wasm_f32x4_add(wasm_f32x4_mul(xh, wasm_v128_load(gamma + j)), wasm_v128_load(beta + j)));
    }
    for (; j < D; j++) yr[j] = (xr[j] - mean) * rstd * gamma[j] + beta[j];
  }
}

/** dx, dgamma, dbeta from dy; mean and 1/std recomputed from x. */
EXPORT(layer_norm_backward)
void layer_norm_backward(const float *dy, const float *x, const float *gamma, float *dx, float *dgamma, float *dbeta,
                         int rows, int D, float eps) {
  zero(dgamma, D);
  zero(dbeta, D);
  for (int r = 0; r < rows; r++) {
    const float *xr = x + r * D, *gr = dy + r * D;
    float *dxr = dx + r * D;
    float mean, rstd;
    mean_rstd(xr, D, eps, &mean, &rstd);
    v128_t vm = wasm_f32x4_splat(mean), vr = wasm_f32x4_splat(rstd);
    v128_t sg = wasm_f32x4_splat(0.0f), sgx = wasm_f32x4_splat(0.0f);
    int j = 0;
    for (; j + 4 <= D; j += 4) {
      v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), vm), vr);
      v128_t d = wasm_v128_load(gr + j);
      wasm_v128_store(dgamma + j, wasm_f32x4_add(wasm_v128_load(dgamma + j), wasm_f32x4_mul(d, xh)));
      wasm_v128_store(dbeta + j, wasm_f32x4_add(wasm_v128_load(dbeta + j), d));
      v128_t g = wasm_f32x4_mul(d, wasm_v128_load(gamma + j));
      sg = wasm_f32x4_add(sg, g);
      sgx = wasm_f32x4_add(sgx, wasm_f32x4_mul(g, xh));
    }
    float sumG = hsum(sg), sumGX = hsum(sgx);
    for (int t = j; t < D; t++) {
      float xh = (xr[t] - mean) * rstd, d = gr[t];
      dgamma[t] += d * xh;
      dbeta[t] += d;
      sumG += d * gamma[t];
      sumGX += d * gamma[t] * xh;
    }
    sumG /= (float)D;
    sumGX /= (float)D;
    v128_t vsg = wasm_f32x4_splat(sumG), vsgx = wasm_f32x4_splat(sumGX);
    j = 0;
    for (; j + 4 <= D; j += 4) {
      v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), vm), vr);
      v128_t g = wasm_f32x4_mul(wasm_v128_load(gr + j), wasm_v128_load(gamma + j));
      wasm_v128_store(dxr + j, wasm_f32x4_mul(vr, wasm_f32x4_sub(wasm_f32x4_sub(g, vsg), wasm_f32x4_mul(xh, vsgx))));
    }
    for (; j < D; j++) {
      float xh = (xr[j] - mean) * rstd;
      dxr[j] = rstd * (gr[j] * gamma[j] - sumG - xh * sumGX);
    }
  }
}

// ---- Column sums: out[c] = Σ_r x[r, c] (bias and broadcast gradients) ----------------------

EXPORT(column_sum)
void column_sum(const float *x, float *out, int rows, int cols) {
  zero(out, cols);
  for (int r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    int c = 0;
    for (; c + 4 <= cols; c += 4) wasm_v128_store(out + c, wasm_f32x4_add(wasm_v128_load(out + c), wasm_v128_load(xr + c)));
    for (; c < cols; c++) out[c] += xr[c];
  }
}

// ---- Adam / AdamW step of one variable (torch's order of operations, float32 throughout) ----

/**
 * θ' = θ·decay − (m' / (√(v'/bc2) + eps))·stepSize, m' = m·β1 + g·(1−β1),
 * v' = v·β2 + g²·(1−β2), g = grad + θ·l2. Every operation is an IEEE float32 one, in the
 * order of the composite tfjs ops, so results equal them bit for bit.
 */
EXPORT(adam_update)
void adam_update(const float *x, const float *g, const float *m, const float *v, float *x1, float *m1, float *v1, int n,
                 float stepSize, float beta1, float beta2, float eps, float bc2, float decay, float l2, float b1,
                 float b2) {
  const v128_t vs = wasm_f32x4_splat(stepSize), vb1 = wasm_f32x4_splat(beta1), vb2 = wasm_f32x4_splat(beta2);
  const v128_t ve = wasm_f32x4_splat(eps), vbc2 = wasm_f32x4_splat(bc2), vd = wasm_f32x4_splat(decay);
  const v128_t vl2 = wasm_f32x4_splat(l2), vc1 = wasm_f32x4_splat(b1), vc2 = wasm_f32x4_splat(b2);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t xi = wasm_v128_load(x + i), gi = wasm_v128_load(g + i);
    if (l2 != 0.0f) gi = wasm_f32x4_add(gi, wasm_f32x4_mul(xi, vl2));
    v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), vb1), wasm_f32x4_mul(gi, vc1));
    v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), vb2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), vc2));
    wasm_v128_store(m1 + i, mi);
    wasm_v128_store(v1 + i, vi);
    v128_t denom = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_div(vi, vbc2)), ve);
    wasm_v128_store(x1 + i, wasm_f32x4_sub(wasm_f32x4_mul(xi, vd), wasm_f32x4_mul(wasm_f32x4_div(mi, denom), vs)));
  }
  for (; i < n; i++) {
    float gi = l2 != 0.0f ? g[i] + x[i] * l2 : g[i];
    float mi = m[i] * beta1 + gi * b1;
    float vi = v[i] * beta2 + gi * gi * b2;
    m1[i] = mi;
    v1[i] = vi;
    float denom = __builtin_sqrtf(vi / bc2) + eps;
    x1[i] = x[i] * decay - (mi / denom) * stepSize;
  }
}

/** a[i] += b[i] for i < n: gradient accumulation in place (one float32 rounding, as tf.add). */
EXPORT(add_into)
void add_into(float *a, const float *b, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(a + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  for (; i < n; i++) a[i] += b[i];
}

// ---- Matrix product ------------------------------------------------------------------------
//
// C[M,N] = op(A)·B (+ bias[N] when bias is not null), with element (i,k) of op(A) at
// A[i·ars + k·acs] (ars = K, acs = 1 for A [M,K]; ars = 1, acs = M for a transposed A stored
// [K,M]), B [K,N] with rows ldb floats apart and C [M,N] with rows ldc apart (ldb = ldc = N
// for whole matrices; wider for a block of columns). The bias seeds the accumulators.
// Register tiles of 4 rows × 8 columns (8 vector accumulators); then 4 columns, then single
// columns; leftover rows one at a time. Each output sums over k in order.
//
// K is cut into blocks whose rows of B fit in L2 (KC_FLOATS floats together): each block is
// read from L2 by every tile of rows instead of from memory, which for a large K·N (an LM
// head's dlogits·W, K = 49 152) is 10× faster. Blocks after the first add into C.

#define KC_FLOATS (256 * 1024)

static inline v128_t bias_at(const float *bias, int j) { return bias ? wasm_v128_load(bias + j) : wasm_f32x4_splat(0.0f); }

// The accumulators' first value: C itself when adding a later block of K, else the bias.
#define SEED(c, bias, j) (acc ? wasm_v128_load(c) : bias_at(bias, j))

static inline void tile4x8(const float *a, int ars, int acs, const float *b, int ldb, float *c, int ldc, int K, const float *bias, int acc) {
  v128_t c00 = SEED(c, bias, 0), c01 = SEED(c + 4, bias, 4), c10 = SEED(c + ldc, bias, 0), c11 = SEED(c + ldc + 4, bias, 4);
  v128_t c20 = SEED(c + 2 * ldc, bias, 0), c21 = SEED(c + 2 * ldc + 4, bias, 4), c30 = SEED(c + 3 * ldc, bias, 0), c31 = SEED(c + 3 * ldc + 4, bias, 4);
  const float *a0 = a, *a1 = a + ars, *a2 = a + 2 * ars, *a3 = a + 3 * ars;
  for (int k = 0, ko = 0; k < K; k++, ko += acs, b += ldb) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    v128_t x = wasm_v128_load32_splat(a0 + ko);
    c00 = MADD(x, b0, c00);
    c01 = MADD(x, b1, c01);
    x = wasm_v128_load32_splat(a1 + ko);
    c10 = MADD(x, b0, c10);
    c11 = MADD(x, b1, c11);
    x = wasm_v128_load32_splat(a2 + ko);
    c20 = MADD(x, b0, c20);
    c21 = MADD(x, b1, c21);
    x = wasm_v128_load32_splat(a3 + ko);
    c30 = MADD(x, b0, c30);
    c31 = MADD(x, b1, c31);
  }
  wasm_v128_store(c, c00);
  wasm_v128_store(c + 4, c01);
  wasm_v128_store(c + ldc, c10);
  wasm_v128_store(c + ldc + 4, c11);
  wasm_v128_store(c + 2 * ldc, c20);
  wasm_v128_store(c + 2 * ldc + 4, c21);
  wasm_v128_store(c + 3 * ldc, c30);
  wasm_v128_store(c + 3 * ldc + 4, c31);
}

static inline void tile4x4(const float *a, int ars, int acs, const float *b, int ldb, float *c, int ldc, int K, const float *bias, int acc) {
  v128_t c0 = SEED(c, bias, 0), c1 = SEED(c + ldc, bias, 0), c2 = SEED(c + 2 * ldc, bias, 0), c3 = SEED(c + 3 * ldc, bias, 0);
  const float *a0 = a, *a1 = a + ars, *a2 = a + 2 * ars, *a3 = a + 3 * ars;
  for (int k = 0, ko = 0; k < K; k++, ko += acs, b += ldb) {
    v128_t b0 = wasm_v128_load(b);
    c0 = MADD(wasm_v128_load32_splat(a0 + ko), b0, c0);
    c1 = MADD(wasm_v128_load32_splat(a1 + ko), b0, c1);
    c2 = MADD(wasm_v128_load32_splat(a2 + ko), b0, c2);
    c3 = MADD(wasm_v128_load32_splat(a3 + ko), b0, c3);
  }
  wasm_v128_store(c, c0);
  wasm_v128_store(c + ldc, c1);
  wasm_v128_store(c + 2 * ldc, c2);
  wasm_v128_store(c + 3 * ldc, c3);
}

static inline void tile1x8(const float *a, int acs, const float *b, int ldb, float *c, int K, const float *bias, int acc) {
  v128_t c0 = SEED(c, bias, 0), c1 = SEED(c + 4, bias, 4);
  for (int k = 0, ko = 0; k < K; k++, ko += acs, b += ldb) {
    v128_t x = wasm_v128_load32_splat(a + ko);
    c0 = MADD(x, wasm_v128_load(b), c0);
    c1 = MADD(x, wasm_v128_load(b + 4), c1);
  }
  wasm_v128_store(c, c0);
  wasm_v128_store(c + 4, c1);
}

static inline void tile1x4(const float *a, int acs, const float *b, int ldb, float *c, int K, const float *bias, int acc) {
  v128_t c0 = SEED(c, bias, 0);
  for (int k = 0, ko = 0; k < K; k++, ko += acs, b += ldb) c0 = MADD(wasm_v128_load32_splat(a + ko), wasm_v128_load(b), c0);
  wasm_v128_store(c, c0);
}

static inline float dot_strided(const float *a, int acs, const float *b, int ldb, int K, float s) {
  for (int k = 0, ko = 0; k < K; k++, ko += acs, b += ldb) s += a[ko] * b[0];
  return s;
}

/** One block of K: C (+)= op(A)[:, block]·B[block, :], `acc` 0 for the first block. */
static inline void matmul_block(const float *A, const float *B, float *C, int M, int K, int N, int ars, int acs, int ldb, int ldc,
                                const float *bias, int acc) {
  int i = 0;
  for (; i + 4 <= M; i += 4) {
    const float *a = A + i * ars;
    float *c = C + i * ldc;
    int j = 0;
    for (; j + 8 <= N; j += 8) tile4x8(a, ars, acs, B + j, ldb, c + j, ldc, K, bias ? bias + j : 0, acc);
    for (; j + 4 <= N; j += 4) tile4x4(a, ars, acs, B + j, ldb, c + j, ldc, K, bias ? bias + j : 0, acc);
    for (; j < N; j++)
      for (int r = 0; r < 4; r++)
        c[r * ldc + j] = dot_strided(a + r * ars, acs, B + j, ldb, K, acc ? c[r * ldc + j] : bias ? bias[j] : 0.0f);
  }
  for (; i < M; i++) {
    const float *a = A + i * ars;
    float *c = C + i * ldc;
    int j = 0;
    for (; j + 8 <= N; j += 8) tile1x8(a, acs, B + j, ldb, c + j, K, bias ? bias + j : 0, acc);
    for (; j + 4 <= N; j += 4) tile1x4(a, acs, B + j, ldb, c + j, K, bias ? bias + j : 0, acc);
    for (; j < N; j++) c[j] = dot_strided(a, acs, B + j, ldb, K, acc ? c[j] : bias ? bias[j] : 0.0f);
  }
}

// ---- Packed matrix product ----------------------------------------------------------------
//
// The same product for many rows (a prefill's or a GRPO update's 1 000+ tokens, a weight
// gradient's xᵀ·dy): blocks of B (KC rows × up to PANEL_FLOATS / KC columns) are first copied
// into `panel` as strips of 8 columns, 8 floats per k, so every 4×8 tile reads B contiguously
// from L1/L2 whatever B's layout: element (k, j) of B at B[k·brs + j·bcs] (brs = ldb, bcs = 1
// for B [K,N]; brs = 1, bcs = ldb for B stored [N,K], a·bᵀ, with no transposed copy). The
// last strip is padded with zeros; only valid columns are stored. Sums over k in order, as
// `matmul`. `panel` is scratch of PANEL_FLOATS floats owned by the caller (one per thread).

#define KC 256
#define PANEL_FLOATS (256 * 1024)

/** Up to 4 floats, zero-padded (n ≥ 4: one full vector). */
static inline v128_t load_upto4(const float *x, int n) { return n >= 4 ? wasm_v128_load(x) : load_tail(x, n); }
static inline void store_upto4(float *y, v128_t v, int n) {
  if (n >= 4) wasm_v128_store(y, v);
  else store_tail(y, v, n);
}

static inline void pack_b(const float *B, int brs, int bcs, int kc, int nc, float *panel) {
  for (int j = 0; j < nc; j += 8) {
    int w = nc - j < 8 ? nc - j : 8;
    float *p = panel + j * kc;
    if (bcs == 1 && w == 8) {
      for (int k = 0; k < kc; k++) {
        wasm_v128_store(p + 8 * k, wasm_v128_load(B + k * brs + j));
        wasm_v128_store(p + 8 * k + 4, wasm_v128_load(B + k * brs + j + 4));
      }
    } else {
      for (int c = 0; c < 8; c++) {
        const float *src = B + (j + c) * bcs;
        if (c < w)
          for (int k = 0; k < kc; k++) p[8 * k + c] = src[k * brs];
        else
          for (int k = 0; k < kc; k++) p[8 * k + c] = 0.0f;
      }
    }
  }
}

#define PSEED(ptr, n) (acc ? load_upto4(ptr, n) : bias ? load_upto4(bias + (ptr - c0), n) : wasm_f32x4_splat(0.0f))

/**
 * Rows (1..4) of C's w ≤ 8 columns at c from one packed strip (8 floats per k): full strips
 * on `matmul`'s tiles with B's row stride 8; the last, narrower strip row by row.
 */
static inline void tile_packed(const float *a, int ars, int acs, const float *p, float *c, int ldc, int kc, const float *bias, int acc, int rows, int w) {
  if (w == 8) {
    if (rows == 4) tile4x8(a, ars, acs, p, 8, c, ldc, kc, bias, acc);
    else
      for (int r = 0; r < rows; r++) tile1x8(a + r * ars, acs, p, 8, c + r * ldc, kc, bias, acc);
    return;
  }
  int w0 = w < 4 ? w : 4, w1 = w - 4;
  for (int r = 0; r < rows; r++, a += ars, c += ldc) {
    const float *c0 = c;
    v128_t x0 = PSEED(c, w0), x1 = PSEED(c + 4, w1);
    const float *q = p;
    for (int k = 0, ko = 0; k < kc; k++, ko += acs, q += 8) {
      v128_t x = wasm_v128_load32_splat(a + ko);
      x0 = MADD(x, wasm_v128_load(q), x0);
      x1 = MADD(x, wasm_v128_load(q + 4), x1);
    }
    store_upto4(c, x0, w0);
    store_upto4(c + 4, x1, w1);
  }
}

EXPORT(matmul_packed)
void matmul_packed(const float *A, const float *B, float *C, int M, int K, int N, int ars, int acs, int brs, int bcs, int ldc,
                   const float *bias, float *panel) {
  for (int k0 = 0; k0 < K; k0 += KC) {
    int kc = K - k0 < KC ? K - k0 : KC;
    int ncMax = (PANEL_FLOATS / kc) & ~7;
    for (int j0 = 0; j0 < N; j0 += ncMax) {
      int nc = N - j0 < ncMax ? N - j0 : ncMax;
      pack_b(B + k0 * brs + j0 * bcs, brs, bcs, kc, nc, panel);
      for (int i = 0; i < M; i += 4) {
        int rows = M - i < 4 ? M - i : 4;
        const float *a = A + i * ars + k0 * acs;
        for (int j = 0; j < nc; j += 8) {
          int w = nc - j < 8 ? nc - j : 8;
          tile_packed(a, ars, acs, panel + j * kc, C + i * ldc + j0 + j, ldc, kc, bias ? bias + j0 + j : 0, k0 > 0, rows, w);
        }
      }
    }
  }
}

EXPORT(matmul)
void matmul(const float *A, const float *B, float *C, int M, int K, int N, int ars, int acs, int ldb, int ldc, const float *bias) {
  int kc = K;
  if ((long long)K * N > KC_FLOATS) {
    kc = KC_FLOATS / (N > 0 ? N : 1);
    if (kc < 64) kc = 64;
  }
  for (int k0 = 0; k0 < K; k0 += kc) {
    int kb = K - k0 < kc ? K - k0 : kc;
    matmul_block(A + k0 * acs, B + k0 * ldb, C, M, kb, N, ars, acs, ldb, ldc, bias, k0 > 0);
  }
}

// ---- Token log-probabilities and entropies -------------------------------------------------

/** ln x for finite x > 0 (Cephes logf polynomial; absolute error ≈ 1e-7 near 1). */
static inline float log_f32(float x) {
  union {
    float f;
    int i;
  } u;
  u.f = x;
  int e = ((u.i >> 23) & 0xff) - 127;
  u.i = (u.i & 0x007fffff) | 0x3f800000;
  float m = u.f;
  if (m > 1.41421356f) {
    m *= 0.5f;
    e += 1;
  }
  const float f = m - 1.0f, z = f * f;
  float y = 7.0376836292e-2f;
  y = y * f - 1.1514610310e-1f;
  y = y * f + 1.1676998740e-1f;
  y = y * f - 1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f;
  y = y * f - 1.6668057665e-1f;
  y = y * f + 2.0000714765e-1f;
  y = y * f - 2.4999993993e-1f;
  y = y * f + 3.3333331174e-1f;
  y = y * f * z;
  y += -2.12194440e-4f * (float)e;
  y += -0.5f * z;
  return f + y + 0.693359375f * (float)e;
}

/** Of softmax(x·invT) over one row of V: the max of x·invT, log Σ exp(s − max), entropy. */
__attribute__((always_inline)) static inline void softmax_stats(const float *x, int V, float invT, float *max_out, float *lse_out, float *entropy_out) {
  const v128_t vt = wasm_f32x4_splat(invT);
  v128_t vmax = wasm_f32x4_splat(-__builtin_inff());
  int j = 0;
  for (; j + 4 <= V; j += 4) vmax = wasm_f32x4_pmax(vmax, wasm_f32x4_mul(wasm_v128_load(x + j), vt));
  float max = -__builtin_inff();
  for (int t = 0; t < 4 && V >= 4; t++) {
    float m = t == 0 ? wasm_f32x4_extract_lane(vmax, 0)
              : t == 1 ? wasm_f32x4_extract_lane(vmax, 1)
              : t == 2 ? wasm_f32x4_extract_lane(vmax, 2)
                       : wasm_f32x4_extract_lane(vmax, 3);
    if (m > max) max = m;
  }
  for (; j < V; j++)
    if (x[j] * invT > max) max = x[j] * invT;
  const v128_t vm = wasm_f32x4_splat(max);
  v128_t vsum = wasm_f32x4_splat(0.0f), vps = vsum;
  for (j = 0; j + 4 <= V; j += 4) {
    v128_t s = wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(x + j), vt), vm);
    v128_t e = exp_f32x4(s);
    vsum = wasm_f32x4_add(vsum, e);
    vps = wasm_f32x4_add(vps, wasm_f32x4_mul(e, s));
  }
  float sum = hsum(vsum), ps = hsum(vps);
  for (; j < V; j++) {
    float s = x[j] * invT - max, e = exp_f32(s);
    sum += e;
    ps += e * s;
  }
  const float lse = log_f32(sum);
  *max_out = max;
  *lse_out = lse;
  // H = −Σ p (s − lse) = lse − Σ p s.
  *entropy_out = lse - ps / sum;
}

/** Per row of logits [rows, V]: log p(target) and the entropy of softmax(logits·invT). */
EXPORT(token_logp_forward)
void token_logp_forward(const float *logits, const int *targets, float *logp, float *entropy, int rows, int V, float invT) {
  for (int r = 0; r < rows; r++) {
    const float *x = logits + r * V;
    float max, lse, H;
    softmax_stats(x, V, invT, &max, &lse, &H);
    logp[r] = x[targets[r]] * invT - max - lse;
    entropy[r] = H;
  }
}

/** d/dlogits of Σ dlogp·logp + dentropy·entropy (per row), as the JavaScript kernel. */
EXPORT(token_logp_backward)
void token_logp_backward(const float *dlogp, const float *dentropy, const float *logits, const int *targets, float *dx,
                         int rows, int V, float invT) {
  const v128_t vt = wasm_f32x4_splat(invT);
  for (int r = 0; r < rows; r++) {
    const float *x = logits + r * V;
    float *d = dx + r * V;
    float max, lse, H;
    softmax_stats(x, V, invT, &max, &lse, &H);
    const float g1 = dlogp[r], g2 = dentropy[r];
    const v128_t off = wasm_f32x4_splat(max + lse), vg1 = wasm_f32x4_splat(g1), vg2 = wasm_f32x4_splat(g2);
    const v128_t vh = wasm_f32x4_splat(H);
    int j = 0;
    for (; j + 4 <= V; j += 4) {
      v128_t lp = wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(x + j), vt), off);
      v128_t p = exp_f32x4(lp);
      v128_t g = wasm_f32x4_add(wasm_f32x4_mul(vg1, p), wasm_f32x4_mul(wasm_f32x4_mul(vg2, p), wasm_f32x4_add(lp, vh)));
      wasm_v128_store(d + j, wasm_f32x4_neg(wasm_f32x4_mul(vt, g)));
    }
    for (; j < V; j++) {
      float lp = x[j] * invT - max - lse, p = exp_f32(lp);
      d[j] = invT * (-g1 * p - g2 * p * (lp + H));
    }
    d[targets[r]] += invT * g1;
  }
}

// ---- Σ x² in double (gradient norms) --------------------------------------------------------

EXPORT(sum_of_squares)
double sum_of_squares(const float *x, int n) {
  v128_t acc = wasm_f64x2_splat(0.0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t lo = wasm_f64x2_promote_low_f32x4(v);
    v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    acc = wasm_f64x2_add(acc, wasm_f64x2_add(wasm_f64x2_mul(lo, lo), wasm_f64x2_mul(hi, hi)));
  }
  double s = wasm_f64x2_extract_lane(acc, 0) + wasm_f64x2_extract_lane(acc, 1);
  for (; i < n; i++) s += (double)x[i] * (double)x[i];
  return s;
}

// ---- Transpose of the last two axes ----------------------------------------------------------

/** dst[b, c, r] = src[b, r, c] for `batch` matrices of rows × cols, in 4×4 register blocks. */
EXPORT(transpose)
void transpose(const float *src, float *dst, int batch, int rows, int cols) {
  for (int b = 0; b < batch; b++) {
    const float *s = src + b * rows * cols;
    float *d = dst + b * rows * cols;
    int i = 0;
    for (; i + 4 <= rows; i += 4) {
      int j = 0;
      for (; j + 4 <= cols; j += 4) {
        v128_t r0 = wasm_v128_load(s + i * cols + j), r1 = wasm_v128_load(s + (i + 1) * cols + j);
        v128_t r2 = wasm_v128_load(s + (i + 2) * cols + j), r3 = wasm_v128_load(s + (i + 3) * cols + j);
        v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
        v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
        wasm_v128_store(d + j * rows + i, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
        wasm_v128_store(d + (j + 1) * rows + i, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
        wasm_v128_store(d + (j + 2) * rows + i, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
        wasm_v128_store(d + (j + 3) * rows + i, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
      }
      for (; j < cols; j++)
        for (int r = i; r < i + 4; r++) d[j * rows + r] = s[r * cols + j];
    }
    for (; i < rows; i++)
      for (int j = 0; j < cols; j++) d[j * rows + i] = s[i * cols + j];
  }
}
