import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { GELU, JS_KERNEL_BACKENDS, LAYER_NORM } from '../kernels/js-kernels';
import { describeBackends } from '../testing/backends';
import { seededTensor } from '../testing/random';
import { expectAllClose } from '../testing/close';
import { type AdamStepOptions, adamStep, adamStepComposite } from './adam';
import { gelu, geluComposite } from './gelu';
import { layerNorm, layerNormComposite } from './layer-norm';
import { sumOfSquares, sumOfSquaresComposite } from './sum-of-squares';
import { tokenLogProbs, tokenLogProbsComposite } from './token-log-probs';

const randn = seededTensor;

/** Values and gradients of `sum(f(inputs) · w)` for a fixed random weighting `w`. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], w: tf.Tensor) {
  const g = tf.valueAndGrads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), w)));
  const { value, grads } = g(inputs);
  const y = f(...inputs);
  return { y, value, grads };
}

/** Runs `f` and asserts no tensor and no backend memory outlives it. */
function noLeak(f: () => void): void {
  const before = tf.memory();
  const dataIds = tf.engine().backend.numDataIds();
  f();
  expect(tf.memory().numTensors).toBe(before.numTensors);
  expect(tf.memory().numBytes).toBe(before.numBytes);
  expect(tf.engine().backend.numDataIds()).toBe(dataIds);
}

describeBackends('fused ops', (backend) => {
  it('run as fused kernels on wasm and cpu, as composites of native ops on tensorflow', () => {
    expect(tf.getBackend()).toBe(backend);
    const x = tf.ones([2, 3]);
    const y = layerNorm(x, tf.ones([3]), tf.zeros([3]));
    // The JS kernels read float32 buffers directly; tfjs-node keeps tensors in native memory.
    const fused = (JS_KERNEL_BACKENDS as readonly string[]).includes(backend);
    expect(tf.getKernel(LAYER_NORM, backend) !== undefined).toBe(fused);
    expect(tf.getKernel(GELU, backend) !== undefined).toBe(fused);
    tf.dispose([x, y]);
  });

  it('layerNorm matches hand-computed values', () => {
    // Row [1,2,3,4]: mean 2.5, biased variance 1.25.
    const x = tf.tensor2d([1, 2, 3, 4, -1, -1, -1, -1], [2, 4]);
    const y = layerNorm(x, tf.tensor1d([1, 2, 1, 1]), tf.tensor1d([0, 0, 0.5, 0]));
    const r = 1 / Math.sqrt(1.25 + 1e-5);
    expectAllClose(y.dataSync(), [-1.5 * r, -0.5 * r * 2, 0.5 * r + 0.5, 1.5 * r, 0, 0, 0.5, 0], { rtol: 1e-5, atol: 1e-5 });
    tf.dispose([x, y]);
  });

  for (const shape of [
    [5, 16],
    [3, 7, 64],
    [4, 6],
  ]) {
    it(`layerNorm ${JSON.stringify(shape)} equals the composite op, values and gradients, without leaks`, () => {
      const D = shape[shape.length - 1]!;
      const x = tf.add(randn(shape, 1, 2), 0.3);
      const gamma = tf.add(randn([D], 2, 0.5), 1);
      const beta = randn([D], 3, 0.1);
      const w = randn(shape, 4);
      noLeak(() => {
        const fused = valueAndGrads((a, b, c) => layerNorm(a!, b!, c!), [x, gamma, beta], w);
        const comp = valueAndGrads((a, b, c) => layerNormComposite(a!, b!, c!), [x, gamma, beta], w);
        expectAllClose(fused.y.dataSync(), comp.y.dataSync(), { rtol: 1e-5, atol: 1e-5 });
        fused.grads.forEach((g, i) => {
          expect(g.shape).toEqual(comp.grads[i]!.shape);
          expectAllClose(g.dataSync(), comp.grads[i]!.dataSync(), { rtol: 1e-4, atol: 1e-5 });
        });
        tf.dispose([fused.y, fused.value, ...fused.grads, comp.y, comp.value, ...comp.grads]);
      });
      tf.dispose([x, gamma, beta, w]);
    });
  }

  it('gelu matches torch (approximate=tanh) and the composite op, values and gradients, without leaks', () => {
    // torch.nn.functional.gelu(x, approximate='tanh') and its derivative at these points (float64).
    const x = tf.tensor1d([-3, -1, -0.5, 0, 0.5, 1, 3]);
    const y = gelu(x);
    expectAllClose(y.dataSync(), [-0.0036374, -0.158808, -0.154286, 0, 0.345714, 0.841192, 2.9963626], { rtol: 1e-5, atol: 1e-6 });
    const dx = tf.grad((a: tf.Tensor) => tf.sum(gelu(a)))(x);
    expectAllClose(dx.dataSync(), [-0.0115842, -0.0829641, 0.1326301, 0.5, 0.8673699, 1.0829641, 1.0115842], { rtol: 1e-4, atol: 1e-5 });
    tf.dispose([x, y, dx]);

    const xs = randn([6, 40], 5, 4);
    const w = randn([6, 40], 6);
    noLeak(() => {
      const fused = valueAndGrads((a) => gelu(a!), [xs], w);
      const comp = valueAndGrads((a) => geluComposite(a!), [xs], w);
      expectAllClose(fused.y.dataSync(), comp.y.dataSync(), { rtol: 1e-5, atol: 1e-6 });
      // On wasm the fused forward runs only under a gradient tape: compare that value too.
      expectAllClose(fused.value.dataSync(), comp.value.dataSync(), { rtol: 1e-5, atol: 1e-4 });
      expectAllClose(fused.grads[0]!.dataSync(), comp.grads[0]!.dataSync(), { rtol: 1e-4, atol: 1e-5 });
      tf.dispose([fused.y, fused.value, ...fused.grads, comp.y, comp.value, ...comp.grads]);
    });
    tf.dispose([xs, w]);
  });

  for (const mode of ['adam', 'adamw'] as const) {
    it(`adamStep (${mode}) equals the composite update bit for bit over several steps, without leaks`, () => {
      const shape = [7, 9];
      noLeak(() => {
        let fused = [randn(shape, 7), tf.zeros(shape), tf.zeros(shape)];
        let comp = fused.map((t) => tf.clone(t));
        for (let t = 1; t <= 4; t++) {
          const g = randn(shape, 10 + t, 0.1);
          const o: AdamStepOptions = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, t, weightDecay: 0.1, mode };
          const f1 = adamStep(fused[0]!, g, fused[1]!, fused[2]!, o);
          const c1 = adamStepComposite(comp[0]!, g, comp[1]!, comp[2]!, o);
          tf.dispose([...fused, ...comp, g]);
          fused = f1;
          comp = c1;
        }
        fused.forEach((f, i) => {
          expect(Array.from(f.dataSync())).toEqual(Array.from(comp[i]!.dataSync()));
        });
        tf.dispose([...fused, ...comp]);
      });
    });
  }

  it('tokenLogProbs of uniform logits is −log V and entropy log V', () => {
    const logits = tf.fill([2, 3, 5], 0.7);
    const targets = tf.tensor2d([0, 4, 2, 1, 3, 0], [2, 3], 'int32');
    const { logp, entropy } = tokenLogProbs(logits, targets, 0.5);
    expectAllClose(logp.dataSync(), new Array(6).fill(-Math.log(5)), { rtol: 1e-6, atol: 1e-6 });
    expectAllClose(entropy.dataSync(), new Array(6).fill(Math.log(5)), { rtol: 1e-6, atol: 1e-6 });
    tf.dispose([logits, targets, logp, entropy]);
  });

  for (const temperature of [1, 0.7]) {
    it(`tokenLogProbs (T=${temperature}) equals the composite op, values and gradients, without leaks`, () => {
      const logits = randn([3, 5, 11], 21, 4);
      const targets = tf.tensor2d(Array.from({ length: 15 }, (_, i) => (i * 7) % 11), [3, 5], 'int32');
      const w1 = randn([3, 5], 22);
      const w2 = randn([3, 5], 23);
      noLeak(() => {
        const run = (f: typeof tokenLogProbs) => {
          const g = tf.valueAndGrad((l: tf.Tensor) => {
            const { logp, entropy } = f(l, targets, temperature);
            return tf.add(tf.sum(tf.mul(logp, w1)), tf.sum(tf.mul(entropy, w2)));
          });
          const { value, grad } = g(logits);
          const { logp, entropy } = f(logits, targets, temperature);
          return [value, grad, logp, entropy];
        };
        const fused = run(tokenLogProbs);
        const comp = run(tokenLogProbsComposite);
        fused.forEach((t, i) => {
          expect(t.shape).toEqual(comp[i]!.shape);
          expectAllClose(t.dataSync(), comp[i]!.dataSync(), { rtol: 1e-4, atol: 1e-5 });
        });
        tf.dispose([...fused, ...comp]);
      });
      tf.dispose([logits, targets, w1, w2]);
    });
  }

  it('sumOfSquares equals the composite op and a hand sum, without leaks', () => {
    const a = tf.tensor1d([1, -2, 3]);
    const b = tf.tensor2d([0.5, 0.5, -1, 2], [2, 2]);
    const c = randn([13, 17], 31);
    noLeak(() => {
      const s = sumOfSquares([a, b]);
      expectAllClose(s.dataSync(), [14 + 0.25 + 0.25 + 1 + 4], { rtol: 1e-6, atol: 1e-6 });
      expect(s.shape).toEqual([]);
      const f = sumOfSquares([a, b, c]);
      const g = sumOfSquaresComposite([a, b, c]);
      expectAllClose(f.dataSync(), g.dataSync(), { rtol: 1e-5, atol: 1e-5 });
      tf.dispose([s, f, g]);
    });
    tf.dispose([a, b, c]);
  });
});
