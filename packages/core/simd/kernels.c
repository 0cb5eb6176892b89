// SIMD kernels that run inside tfjs-backend-wasm's memory.
//
// Built by packages/core/simd/build.mjs (clang --target=wasm32 -msimd128) into a module
// that imports the backend's memory; every pointer argument is a byte offset of a tensor
// the backend owns. The functions use no static data and no stack (only scalar and v128
// locals), so nothing of the backend's memory is touched but the buffers passed in;
// build.mjs checks the compiled module for that.

#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

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

/**
 * Attention forward over heads laid side by side: q [B,Tq,H·dh], k/v [B,Tk,H·dh],
 * keyMask [B,Tk] (> 0 visible). Query i sees key j when visible and, if causal,
 * j ≤ i + Tk − Tq; a query that sees none averages all Tk values. Writes out [B,Tq,H·dh]
 * and probs [B,H,Tq,Tk].
 */
EXPORT(attention_forward)
void attention_forward(const float *q, const float *k, const float *v, const float *keyMask, float *out, float *probs,
                       int B, int Tq, int Tk, int H, int dh, int causal) {
  const int D = H * dh;
  const float scale = 1.0f / __builtin_sqrtf((float)dh);
  for (int b = 0; b < B; b++) {
    const float *mask = keyMask + b * Tk;
    for (int h = 0; h < H; h++) {
      for (int i = 0; i < Tq; i++) {
        const float *qi = q + (b * Tq + i) * D + h * dh;
        float *p = probs + ((b * H + h) * Tq + i) * Tk;
        int last = causal ? i + Tk - Tq : Tk - 1;
        if (last > Tk - 1) last = Tk - 1;
        float max = -__builtin_inff();
        for (int j = 0; j < Tk; j++) {
          if (j <= last && mask[j] > 0.0f) {
            float s = dot(qi, k + (b * Tk + j) * D + h * dh, dh) * scale;
            p[j] = s;
            if (s > max) max = s;
          } else {
            p[j] = -__builtin_inff();
          }
        }
        if (max == -__builtin_inff()) {
          for (int j = 0; j < Tk; j++) p[j] = 1.0f / (float)Tk;
        } else {
          float sum = 0.0f;
          for (int j = 0; j < Tk; j++) {
            float e = p[j] == -__builtin_inff() ? 0.0f : exp_f32(p[j] - max);
            p[j] = e;
            sum += e;
          }
          const float inv = 1.0f / sum;
          for (int j = 0; j < Tk; j++) p[j] *= inv;
        }
        float *o = out + (b * Tq + i) * D + h * dh;
        zero(o, dh);
        for (int j = 0; j < Tk; j++) {
          if (p[j] != 0.0f) axpy(o, p[j], v + (b * Tk + j) * D + h * dh, dh);
        }
      }
    }
  }
}

/**
 * Attention backward from dout [B,Tq,H·dh] and the forward's probs: dq, dk, dv (same
 * layouts as q, k, v). dS_j = p_j (dP_j − Σ_j p_j dP_j) with dP_j = dout_i · v_j, which is
 * computed twice rather than kept (the kernel has no scratch memory).
 */
EXPORT(attention_backward)
void attention_backward(const float *dout, const float *q, const float *k, const float *v, const float *probs, float *dq,
                        float *dk, float *dv, int B, int Tq, int Tk, int H, int dh) {
  const int D = H * dh;
  const float scale = 1.0f / __builtin_sqrtf((float)dh);
  zero(dq, B * Tq * D);
  zero(dk, B * Tk * D);
  zero(dv, B * Tk * D);
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < H; h++) {
      for (int i = 0; i < Tq; i++) {
        const int qo = (b * Tq + i) * D + h * dh;
        const float *p = probs + ((b * H + h) * Tq + i) * Tk;
        const float *g = dout + qo;
        float rowDot = 0.0f;
        for (int j = 0; j < Tk; j++) {
          if (p[j] == 0.0f) continue;
          const int vo = (b * Tk + j) * D + h * dh;
          rowDot += p[j] * dot(g, v + vo, dh);
          axpy(dv + vo, p[j], g, dh);
        }
        for (int j = 0; j < Tk; j++) {
          if (p[j] == 0.0f) continue;
          const int ko = (b * Tk + j) * D + h * dh;
          const float ds = p[j] * (dot(g, v + ko, dh) - rowDot) * scale;
          axpy(dq + qo, ds, k + ko, dh);
          axpy(dk + ko, ds, q + qo, dh);
        }
      }
    }
  }
}
