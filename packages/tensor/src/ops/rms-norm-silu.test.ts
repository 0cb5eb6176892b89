import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../testing/backends';
import { expectAllClose } from '../testing/close';
import { seededTensor } from '../testing/random';
import { rmsNorm, rmsNormComposite } from './rms-norm';
import { siluMul, siluMulComposite } from './silu-mul';

const randn = seededTensor;

/** Float64 RMSNorm of rows of `x` and the gradients of Σ y·c (the reference for both ops' backward). */
function rmsNormReference(x: Float32Array, w: Float32Array, c: Float32Array, D: number, eps: number) {
  const rows = x.length / D;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < D; j++) ss += x[r * D + j]! ** 2;
    const inv = 1 / Math.sqrt(ss / D + eps);
    // y_j = w_j x_j inv; ∂(Σ c_j y_j)/∂x_k = c_k w_k inv − inv³ x_k / D · Σ_j c_j w_j x_j.
    let dot = 0;
    for (let j = 0; j < D; j++) dot += c[r * D + j]! * w[j]! * x[r * D + j]!;
    for (let j = 0; j < D; j++) {
      const i = r * D + j;
      y[i] = w[j]! * x[i]! * inv;
      dx[i] = c[i]! * w[j]! * inv - (inv ** 3 * x[i]! * dot) / D;
      dw[j] = dw[j]! + c[i]! * x[i]! * inv;
    }
  }
  return { y, dx, dw };
}

/** Runs `f` and asserts no tensor outlives it. */
function noLeak(f: () => void): void {
  const before = tf.memory().numTensors;
  f();
  expect(tf.memory().numTensors).toBe(before);
}

describeBackends('rmsNorm and siluMul', () => {
  for (const shape of [
    [5, 16],
    [3, 4, 32],
  ]) {
    it(`rmsNorm ${JSON.stringify(shape)}: the composite's values bit for bit, float64 gradients, no leaks`, () => {
      const D = shape[shape.length - 1]!;
      const eps = 1e-6;
      const x = randn(shape, 1, 2);
      const w = tf.add(randn([D], 2, 0.5), 1);
      const c = randn(shape, 3);
      noLeak(() => {
        const y = rmsNorm(x, w, eps);
        const yc = rmsNormComposite(x, w, eps);
        expect(Array.from(y.dataSync())).toEqual(Array.from(yc.dataSync()));
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a, b, eps), c)))([x, w]);
        const ref = rmsNormReference(x.dataSync() as Float32Array, w.dataSync() as Float32Array, c.dataSync() as Float32Array, D, eps);
        expectAllClose(y.dataSync(), ref.y, { rtol: 1e-5, atol: 1e-6 });
        expect(dx!.shape).toEqual(shape);
        expect(dw!.shape).toEqual([D]);
        expectAllClose(dx!.dataSync(), ref.dx, { rtol: 1e-4, atol: 1e-5 });
        expectAllClose(dw!.dataSync(), ref.dw, { rtol: 1e-4, atol: 1e-5 });
        tf.dispose([y, yc, dx!, dw!]);
      });
      tf.dispose([x, w, c]);
    });
  }

  it('rmsNorm refuses a weight that is not [D]', () => {
    const x = tf.zeros([2, 4]);
    expect(() => rmsNorm(x, tf.ones([3]), 1e-6)).toThrow('rmsNorm: weight must be [4], got [3]');
    tf.dispose(x);
  });

  it('siluMul: the composite values bit for bit, float64 gradients, no leaks', () => {
    const g = randn([6, 24], 4, 4);
    const u = randn([6, 24], 5, 2);
    const c = randn([6, 24], 6);
    noLeak(() => {
      const y = siluMul(g, u);
      const yc = siluMulComposite(g, u);
      expect(Array.from(y.dataSync())).toEqual(Array.from(yc.dataSync()));
      const [dg, du] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(siluMul(a, b), c)))([g, u]);
      const [gv, uv, cv] = [g.dataSync(), u.dataSync(), c.dataSync()];
      const refY: number[] = [];
      const refG: number[] = [];
      const refU: number[] = [];
      gv.forEach((x, i) => {
        const s = 1 / (1 + Math.exp(-x));
        refY.push(x * s * uv[i]!);
        // d/dx [x σ(x)] = σ + x σ (1 − σ).
        refG.push(cv[i]! * uv[i]! * (s + x * s * (1 - s)));
        refU.push(cv[i]! * x * s);
      });
      expectAllClose(y.dataSync(), refY, { rtol: 1e-5, atol: 1e-6 });
      expectAllClose(dg!.dataSync(), refG, { rtol: 1e-4, atol: 1e-6 });
      expectAllClose(du!.dataSync(), refU, { rtol: 1e-4, atol: 1e-6 });
      tf.dispose([y, yc, dg!, du!]);
    });
    tf.dispose([g, u, c]);
  });
});
